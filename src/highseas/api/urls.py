from __future__ import annotations

from django.urls import path

from highseas.api.routers import IdRouter, by_prefix
from highseas.api.views.accounts import TeamViewSet, UserViewSet
from highseas.api.views.audit import AuditLogView
from highseas.api.views.auth import DeviceTokenViewSet, TokenView
from highseas.api.views.collaboration import TaskViewSet
from highseas.api.views.customers import CustomerViewSet
from highseas.api.views.exports import ActivityExportView, CustomerExportView
from highseas.api.views.imports import (
    ImportCommitView,
    ImportDetailView,
    ImportRowsView,
    ImportView,
)
from highseas.api.views.insights import (
    BreakdownView,
    ClaimEffectivenessView,
    FairnessView,
    LevelLockView,
    LimitPlanPreviewView,
    LimitPlanView,
    MyLimitsView,
    RepFiguresView,
    RescoreView,
)
from highseas.api.views.me import MeView
from highseas.api.views.notifications import NotificationViewSet
from highseas.api.views.ownership import ClaimRequestViewSet
from highseas.api.views.pools import PoolViewSet
from highseas.api.views.reps import RepSearchView
from highseas.api.views.routing import AssignmentRuleViewSet, AssignmentRunViewSet
from highseas.api.views.search import SearchView
from highseas.api.views.smart import (
    CurrentModelView,
    ModelListView,
    SimulationDetailView,
    SimulationView,
    TrainView,
)
from highseas.api.views.sweeps import SweepView

router = IdRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("users", UserViewSet, basename="user")
router.register("pools", PoolViewSet, basename="pool")
router.register("customers", CustomerViewSet, basename="customer")
router.register("claim-requests", ClaimRequestViewSet, basename="claim-request")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("tasks", TaskViewSet, basename="task")
router.register("assignment-rules", AssignmentRuleViewSet, basename="assignment-rule")
router.register("assignment-runs", AssignmentRunViewSet, basename="assignment-run")
router.register("auth/tokens", DeviceTokenViewSet, basename="auth-token-device")

# Each prefix's routes behind one pattern; the customers' first of all, and the claim first
# among them (a claim in a rush is tried against two patterns; no explicit path below starts
# like it, so nothing changes which pattern matches): ``highseas.api.routers.by_prefix``.
routes = by_prefix(router, first=("customers",), hot=("customer-claim",))

app_name = "api"
urlpatterns = [
    routes[0],
    path("auth/token/", TokenView.as_view(), name="token"),
    path("me/", MeView.as_view(), name="me"),
    path("audit-log/", AuditLogView.as_view(), name="audit-log"),
    path("sweeps/", SweepView.as_view(), name="sweeps"),
    path("search/", SearchView.as_view(), name="search"),
    path("reps/", RepSearchView.as_view(), name="reps"),
    path("models/", ModelListView.as_view(), name="models"),
    path("models/train/", TrainView.as_view(), name="model-train"),
    path("models/current/", CurrentModelView.as_view(), name="model-current"),
    path("simulations/", SimulationView.as_view(), name="simulations"),
    path("simulations/<int:pk>/", SimulationDetailView.as_view(), name="simulation"),
    path("imports/", ImportView.as_view(), name="imports"),
    path("imports/<int:pk>/", ImportDetailView.as_view(), name="import"),
    path("imports/<int:pk>/commit/", ImportCommitView.as_view(), name="import-commit"),
    path("imports/<int:pk>/rows/", ImportRowsView.as_view(), name="import-rows"),
    path("exports/customers/", CustomerExportView.as_view(), name="export-customers"),
    path("exports/activities/", ActivityExportView.as_view(), name="export-activities"),
    path("insights/reps/", RepFiguresView.as_view(), name="insights-reps"),
    path("insights/fairness/", FairnessView.as_view(), name="insights-fairness"),
    path("insights/rescore/", RescoreView.as_view(), name="insights-rescore"),
    path("insights/breakdown/", BreakdownView.as_view(), name="insights-breakdown"),
    path("insights/claims/", ClaimEffectivenessView.as_view(), name="insights-claims"),
    path("insights/levels/<int:pk>/lock/", LevelLockView.as_view(), name="insights-level-lock"),
    path("insights/limit-plans/<int:pk>/", LimitPlanView.as_view(), name="insights-limit-plan"),
    path(
        "insights/limit-plans/<int:pk>/preview/",
        LimitPlanPreviewView.as_view(),
        name="insights-limit-plan-preview",
    ),
    path("insights/limits/mine/", MyLimitsView.as_view(), name="insights-my-limits"),
    *routes[1:],
]
