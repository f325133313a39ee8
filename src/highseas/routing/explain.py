"""Turning the engine's compact explanation into what a person reads: names, and a sentence per
reason in the caller's language. Stored explanations keep ids and codes only, so they stay
small (a backlog run stores one per customer) and read in any language later."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from highseas.accounts.models import User
from highseas.engine.planner import Decision
from highseas.routing.models import AssignmentRule

REASONS = {
    "no_rule_matched": gettext_noop("No rule matched this customer."),
    "kept_in_pool": gettext_noop("The rule keeps this customer in the pool."),
    "nobody_eligible": gettext_noop("Nobody in the target team could take another customer."),
    "empty_team": gettext_noop("The target team has no reps."),
    "unknown_user": gettext_noop("The target user does not exist."),
    "inactive": gettext_noop("Not active."),
    "on_leave": gettext_noop("On leave today."),
    "holding_cap_reached": gettext_noop("Holds %(used)s customers, the cap is %(limit)s."),
    "daily_quota_reached": gettext_noop(
        "Was given %(used)s customers today, the quota is %(limit)s."
    ),
    "zero_weight": gettext_noop("Has weight 0 in this rule."),
    "assigned": gettext_noop("Rule «%(rule)s» gave this customer to %(owner)s."),
}


def reason_text(code: str, facts: dict[str, Any] | None = None) -> str:
    template = REASONS.get(code)
    if template is None:
        return code
    text = _(template)
    if "%(" not in template:
        return text
    return text % facts if facts else code


def rep_names(explanations: Iterable[dict[str, Any]]) -> dict[int, str]:
    """The display names of every rep the explanations mention, in one query."""
    ids: set[int] = set()
    for explanation in explanations:
        ids.update(int(rep) for rep in explanation.get("eligible", {}))
        ids.update(int(rep) for rep in explanation.get("rejected", {}))
    return {user.pk: user.label for user in User.objects.filter(pk__in=ids)}


def _candidates(explanation: dict[str, Any], names: dict[int, str]) -> list[dict[str, Any]]:
    owner = explanation.get("owner")
    found: list[dict[str, Any]] = []
    for rep, score in explanation.get("eligible", {}).items():
        entry: dict[str, Any] = {
            "rep": int(rep),
            "name": names.get(int(rep), ""),
            "verdict": "taken" if int(rep) == owner else "passed_over",
            "score": score,
        }
        if matched := explanation.get("matched", {}).get(rep):
            entry["matched"] = matched
        found.append(entry)
    for rep, rejection in explanation.get("rejected", {}).items():
        found.append(
            {
                "rep": int(rep),
                "name": names.get(int(rep), ""),
                "verdict": "rejected",
                **rejection,
                "detail": reason_text(rejection["reason"], rejection),
            }
        )
    return sorted(found, key=lambda entry: entry["rep"])


SMART = {
    "p": gettext_noop("P(win) with %(owner)s: %(p)s; team median %(median)s."),
    "segment": gettext_noop(
        "%(segment)s customers in the last %(months)s months: won %(won)s of %(decided)s."
    ),
    "whole": gettext_noop(
        "All customers in the last %(months)s months: won %(won)s of %(decided)s."
    ),
    "room": gettext_noop(
        "Given %(given)s customers today (daily quota %(quota)s); holds %(holdings)s (cap %(cap)s)."
    ),
    "capacity": gettext_noop(
        "%(rep)s (P(win) %(p)s) was not chosen: their cap or daily quota was full."
    ),
    "fairness": gettext_noop(
        "%(rep)s (P(win) %(p)s) was not chosen: they reached the fairness bound of %(most)s "
        "customers today."
    ),
    "lower": gettext_noop("The next best, %(rep)s, has a lower P(win) (%(p)s)."),
    "placed_elsewhere": gettext_noop(
        "%(rep)s (P(win) %(p)s) was not chosen: their room went to customers where they make "
        "a bigger difference."
    ),
    "fallback": gettext_noop("Smart assignment used the performance strategy: %(why)s."),
}
FALLBACKS = {
    "no_model": gettext_noop("no win model has been trained yet"),
    "thin_data": gettext_noop("too little history to train the win model"),
    "artefact_missing": gettext_noop("the win model's file is missing"),
}
NO_LIMIT = gettext_noop("none")


def _percent(value: float) -> str:
    return f"{value:.0%}"


def smart_sentences(explanation: dict[str, Any], names: dict[int, str]) -> list[str]:
    """A smart decision in words: P(win) of the chosen rep and the team median, the record
    behind it, the room used, and why the next best rep was not chosen — or the fallback."""
    if fallback := explanation.get("fallback"):
        why = FALLBACKS.get(fallback.get("reason", ""), fallback.get("reason", ""))
        return [_(SMART["fallback"]) % {"why": _(why)}]
    smart = explanation.get("smart")
    if not smart:
        return []
    owner = explanation.get("owner") or 0
    sentences = [
        _(SMART["p"])
        % {
            "owner": names.get(owner, owner),
            "p": _percent(smart["p"]),
            "median": _percent(smart["team_median"]),
        }
    ]
    if record := smart.get("record"):
        facts = {"months": record["months"], "won": record["won"], "decided": record["decided"]}
        segment = "".join(record["segment"].get(k, "") for k in ("province", "industry"))
        if segment:
            sentences.append(_(SMART["segment"]) % {**facts, "segment": segment})
        else:
            sentences.append(_(SMART["whole"]) % facts)
    room = smart.get("capacity") or {}
    none = _(NO_LIMIT)
    sentences.append(
        _(SMART["room"])
        % {
            "given": room.get("given_today"),
            "quota": none if room.get("quota") is None else room["quota"],
            "holdings": room.get("holdings"),
            "cap": none if room.get("cap") is None else room["cap"],
        }
    )
    if nxt := smart.get("next_best"):
        facts = {
            "rep": names.get(nxt["rep"], nxt["rep"]),
            "p": _percent(nxt["p"]),
            "most": (smart.get("fairness") or {}).get("most"),
        }
        sentences.append(_(SMART[nxt["why"]]) % facts)
    return sentences


def render(explanation: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """The explanation with rep names, each candidate's verdict, and a summary sentence."""
    rule = explanation.get("rule")
    owner = explanation.get("owner")
    if explanation.get("outcome") == "assigned":
        summary = reason_text(
            "assigned",
            {"rule": rule["name"] if rule else "", "owner": names.get(owner or 0, owner)},
        )
    elif refused := explanation.get("refused"):
        summary = _("The assignment was refused (%(code)s).") % {"code": refused["code"]}
    else:
        reason = explanation.get("reason", "")
        rejections = list(explanation.get("rejected", {}).values())
        only = rejections[0] if len(rejections) == 1 else None
        summary = reason_text(reason, only if only and only["reason"] == reason else None)
    return {
        "rule": rule,
        "rules_not_matched": explanation.get("not_matched", []),
        "target": explanation.get("target"),
        "candidates": _candidates(explanation, names),
        "tie_break": explanation.get("tie_break"),
        "outcome": explanation.get("outcome"),
        "reason": explanation.get("reason", ""),
        "owner": owner,
        "summary": summary,
        "smart": explanation.get("smart"),
        "fallback": explanation.get("fallback"),
        "smart_summary": smart_sentences(explanation, names),
    }


def render_decisions(decisions: list[Decision]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Every decision's rendered explanation, and the names used."""
    names = rep_names(d.explanation for d in decisions)
    return [render(d.explanation, names) for d in decisions], names


RULE_ACTOR = "system:rule:"


def rule_actor_name(actor_label: str) -> str | None:
    """The name of the assignment rule a ledger row's ``actor_label`` (``system:rule:<id>``)
    names, or ``None`` when it names no rule; a rule deleted since is named by its id."""
    if not actor_label.startswith(RULE_ACTOR):
        return None
    rule_id = actor_label.removeprefix(RULE_ACTOR)
    if not rule_id.isdigit():
        return None
    name = AssignmentRule.objects.filter(pk=int(rule_id)).values_list("name", flat=True).first()
    return name if name is not None else f"#{rule_id}"


def ledger_actor_name(actor: User | None, actor_label: str) -> str | None:
    """Who a ledger row says acted, by name: the person, or the assignment rule (``None`` for
    the sweep's own rules, which ``actor_label`` names)."""
    if actor is not None:
        return actor.label
    return rule_actor_name(actor_label)
