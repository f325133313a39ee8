"""Smart assignment (SPEC §10): ``POST models/train/`` trains a version of the win model,
``GET models/current/`` reads the current one and ``GET models/`` the latest versions;
``POST simulations/`` replays a past period under several strategies, ``GET simulations/`` and
``simulations/{id}/`` read them back. Each is one ``smart`` service for the caller."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from highseas.api.views.base import viewer_of
from highseas.engine.bounds import MAX_ID
from highseas.engine.targets import DEFAULT_FAIRNESS, MAX_FAIRNESS
from highseas.smart import services
from highseas.smart.models import Simulation, WinModelVersion
from highseas.smart.simulate import (
    SIMULATED,
    require_simulator,
    simulate,
    simulation,
    simulations,
)


class ModelOutput(serializers.Serializer[Any]):
    version = serializers.IntegerField(allow_null=True)
    trained_at = serializers.DateTimeField(allow_null=True)
    trained_on = serializers.IntegerField(help_text="decided deals learned from")
    won = serializers.IntegerField()
    cutoff = serializers.DateTimeField(allow_null=True, help_text="deals decided before it")
    auc = serializers.FloatField(allow_null=True, help_text="on the time-based holdout")
    brier = serializers.FloatField(allow_null=True, help_text="on the time-based holdout")
    fallback = serializers.CharField(
        allow_null=True,
        help_text="null when the model is used; else why smart rules use performance "
        "(no_model, thin_data, artefact_missing)",
    )
    algorithm = serializers.CharField()
    seconds = serializers.FloatField()
    metrics = serializers.DictField(help_text="AUC, Brier, log loss, calibration table, …")


def model_body(version: WinModelVersion | None) -> dict[str, Any]:
    if version is None:
        return {
            "version": None,
            "trained_at": None,
            "trained_on": 0,
            "won": 0,
            "cutoff": None,
            "auc": None,
            "brier": None,
            "fallback": "no_model",
            "algorithm": "",
            "seconds": 0.0,
            "metrics": {},
        }
    return {
        "version": version.version,
        "trained_at": version.trained_at,
        "trained_on": version.deals,
        "won": version.won,
        "cutoff": version.cutoff,
        "auc": version.auc,
        "brier": version.brier,
        "fallback": version.fallback or None,
        "algorithm": version.algorithm,
        "seconds": version.seconds,
        "metrics": version.metrics,
    }


class TrainView(APIView):
    """Train a new version on every deal decided so far; it becomes current at once. Below the
    data threshold the version says ``thin_data`` and smart rules use ``performance``."""

    @extend_schema(request=None, responses={201: ModelOutput})
    def post(self, request: Request) -> Response:
        version = services.train_model(viewer_of(request))
        return Response(ModelOutput(model_body(version)).data, status=201)


class CurrentModelView(APIView):
    """The version smart rules score with now (``version`` null and ``fallback`` "no_model"
    before the first training)."""

    @extend_schema(responses={200: ModelOutput})
    def get(self, request: Request) -> Response:
        return Response(ModelOutput(model_body(services.current_model(viewer_of(request)))).data)


class ModelListView(APIView):
    """The latest versions, newest first."""

    @extend_schema(responses={200: ModelOutput(many=True)})
    def get(self, request: Request) -> Response:
        found = services.versions(viewer_of(request))
        return Response(ModelOutput([model_body(v) for v in found], many=True).data)


class SimulationInput(serializers.Serializer[None]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    strategies = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SIMULATED)), min_length=1, max_length=10
    )
    team = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_ID
    )
    fairness = serializers.FloatField(
        required=False, default=DEFAULT_FAIRNESS, min_value=0, max_value=MAX_FAIRNESS
    )
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31)


class StrategyFigures(serializers.Serializer[Any]):
    expected_wins = serializers.FloatField()
    gini_workload = serializers.FloatField()
    recycled = serializers.FloatField()
    assigned = serializers.IntegerField()
    unassigned = serializers.IntegerField()
    per_rep = serializers.DictField(child=serializers.IntegerField())


class SimulationOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    team = serializers.IntegerField(allow_null=True)
    fairness = serializers.FloatField()
    seed = serializers.IntegerField()
    customers = serializers.IntegerField()
    scored_by = serializers.CharField(help_text="model, or win_rates when history was thin")
    model = serializers.DictField(help_text="the model trained on deals before since")
    strategies = serializers.DictField(child=StrategyFigures())
    seconds = serializers.FloatField()


def simulation_body(found: Simulation) -> dict[str, Any]:
    results = found.results
    return {
        "id": found.pk,
        "since": found.since,
        "until": found.until,
        "team": found.team_id,
        "fairness": found.fairness,
        "seed": found.seed,
        "customers": results.get("customers", 0),
        "scored_by": results.get("scored_by", ""),
        "model": {
            "trained_on": found.model_deals,
            "fallback": found.fallback or None,
            **found.model_metrics,
        },
        "strategies": results.get("strategies", {}),
        "seconds": found.seconds,
    }


class SimulationView(APIView):
    """Replay the customers that arrived in ``[since, until)`` under each strategy (and
    ``actual``, what happened) with the reps' capacities at the time, scored by a model trained
    only on deals decided before ``since``."""

    @extend_schema(responses={200: SimulationOutput(many=True)})
    def get(self, request: Request) -> Response:
        found = simulations(viewer_of(request))
        return Response(SimulationOutput([simulation_body(s) for s in found], many=True).data)

    @extend_schema(request=SimulationInput, responses={201: SimulationOutput})
    def post(self, request: Request) -> Response:
        require_simulator(viewer_of(request))  # who may, before what they sent
        data = SimulationInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        found = simulate(
            viewer_of(request),
            since=values["since"],
            until=values["until"],
            strategies=values["strategies"],
            team_id=values["team"],
            fairness=values["fairness"],
            seed=values["seed"],
        )
        return Response(SimulationOutput(simulation_body(found)).data, status=201)


class SimulationDetailView(APIView):
    @extend_schema(responses={200: SimulationOutput})
    def get(self, request: Request, pk: int) -> Response:
        found = simulation(viewer_of(request), pk)
        return Response(SimulationOutput(simulation_body(found)).data)
