"""People in the console: users, teams, rep profiles and leave, for admins and for managers
within their subtree. Each action has its wrong-role test and its forbidden-field test; a
refused post changes nothing and leaves no change row in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from highseas.accounts import services
from highseas.accounts.models import AuditLog, RepProfile, Team, User
from highseas.customers.models import Customer
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.invariants import CheckReport, check_holding_caps
from highseas.pools.models import Pool, RecyclePolicy
from tests.admin_forms import change_in_admin
from tests.web.pages import html, messages_of, signed_in

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
CHANGE_ROWS = [
    AuditLog.Action.USER_CREATE,
    AuditLog.Action.USER_CHANGE,
    AuditLog.Action.ROLE_CHANGE,
    AuditLog.Action.PASSWORD_CHANGE,
    AuditLog.Action.USER_DEACTIVATED,
    AuditLog.Action.TEAM_CREATE,
    AuditLog.Action.TEAM_CHANGE,
    AuditLog.Action.PROFILE_CHANGE,
    AuditLog.Action.CAP_OVERRIDE,
]


def change_rows() -> int:
    return AuditLog.objects.filter(action__in=CHANGE_ROWS).count()


def user_post(user: User, **changes: Any) -> dict[str, Any]:
    """The edit form as the page sends it, with ``changes`` over the user's values."""
    body: dict[str, Any] = {
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "team": user.team_id or "",
        "is_active": "on" if user.is_active else "",
        "password": "",
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not None}


def pages(org: dict[str, Any]) -> list[str]:
    rep, team = org["rep_a"].pk, org["east"].pk
    return [
        "/console/people/",
        "/console/people/new/",
        f"/console/people/{rep}/",
        f"/console/people/{rep}/profile/",
        f"/console/people/{rep}/leave/",
        "/console/teams/",
        f"/console/teams/{team}/",
    ]


# --- who may open the pages ---------------------------------------------------------------


def test_a_rep_gets_403_on_every_people_page_and_post(org: dict[str, Any]) -> None:
    client = signed_in(org["rep_a"])
    for url in pages(org):
        assert client.get(url).status_code == 403, url
        body = {"role": "admin", "name": "x", "level": "senior", "leave_from": "2026-01-01"}
        assert client.post(url, body).status_code == 403, url
    rep = User.objects.get(pk=org["rep_a"].pk)
    assert rep.role == "rep" and rep.profile.level == "junior"
    assert change_rows() == 0


def test_the_console_links_the_people_page(org: dict[str, Any]) -> None:
    page = html(signed_in(org["east_manager"]).get("/console/"))
    assert 'href="/console/people/"' in page and 'data-console-tab="people"' in page


def test_a_manager_lists_only_the_people_of_their_subtree(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    make_customer(org["rep_a"], owner=org["rep_a"], pool=org["east_pool"])
    page = html(signed_in(org["east_manager"]).get("/console/people/"))
    for key in ("rep_a", "rep_b", "east_manager"):
        assert f'data-person="{org[key].pk}"' in page, key
    for key in ("rep_c", "south_manager", "admin"):
        assert f'data-person="{org[key].pk}"' not in page, key
    assert f'data-person="{org["rep_a"].pk}"' in page and 'data-holdings="1"' in page
    admin_page = html(signed_in(org["admin"]).get("/console/people/"))
    assert all(f'data-person="{org[k].pk}"' in admin_page for k in ("rep_c", "admin"))


def test_the_list_filters_by_name_and_team(org: dict[str, Any]) -> None:
    client = signed_in(org["admin"])
    page = html(client.get("/console/people/", {"q": "rep_c"}))
    assert f'data-person="{org["rep_c"].pk}"' in page
    assert f'data-person="{org["rep_a"].pk}"' not in page
    page = html(client.get("/console/people/", {"team": org["south"].pk}))
    assert f'data-person="{org["rep_c"].pk}"' in page
    assert f'data-person="{org["rep_a"].pk}"' not in page


def test_a_manager_cannot_open_anyone_outside_their_subtree(org: dict[str, Any]) -> None:
    client = signed_in(org["east_manager"])
    rep_c, south = org["rep_c"], org["south"]
    for url in (
        f"/console/people/{rep_c.pk}/",
        f"/console/people/{rep_c.pk}/profile/",
        f"/console/people/{org['admin'].pk}/",
        f"/console/teams/{south.pk}/",
        f"/console/teams/{org['head'].pk}/",
    ):
        assert client.get(url).status_code == 404, url
    client.post(f"/console/people/{rep_c.pk}/", user_post(rep_c, display_name="改名"))
    client.post(f"/console/people/{rep_c.pk}/profile/", {"level": "senior"})
    client.post(
        f"/console/people/{rep_c.pk}/leave/",
        {"leave_from": "2026-03-01", "leave_until": "2026-03-05"},
    )
    client.post(f"/console/teams/{south.pk}/", {"name": "改名"})
    rep = User.objects.get(pk=rep_c.pk)
    assert (rep.display_name, rep.profile.level, rep.profile.leave_from) == (
        rep_c.display_name,
        "junior",
        None,
    )
    assert Team.objects.get(pk=south.pk).name == south.name
    assert change_rows() == 0


# --- users --------------------------------------------------------------------------------


def test_an_admin_creates_a_user_with_an_audit_row(org: dict[str, Any]) -> None:
    response = signed_in(org["admin"]).post(
        "/console/people/new/",
        {
            "username": "new_rep",
            "password": "Str0ng-pass!",
            "display_name": "新人",
            "email": "new@example.com",
            "role": "rep",
            "team": org["south"].pk,
            "level": "senior",
        },
    )
    user = User.objects.get(username="new_rep")
    assert response.status_code == 302 and response["Location"] == f"/console/people/{user.pk}/"
    assert (user.team, user.role, user.profile.level) == (org["south"], "rep", "senior")
    assert user.check_password("Str0ng-pass!")
    row = AuditLog.objects.get(action=AuditLog.Action.USER_CREATE)
    assert (row.actor, row.target_id) == (org["admin"], str(user.pk))
    assert row.detail["before"] == {}
    assert row.detail["after"]["team"] == org["south"].pk
    assert row.detail["after"]["level"] == "senior"
    assert "password" not in str(row.detail)


def test_a_manager_creates_a_rep_in_their_team(org: dict[str, Any]) -> None:
    body = {"username": "east_new", "password": "Str0ng-pass!", "role": "rep", "level": "junior"}
    client = signed_in(org["east_manager"])
    response = client.post("/console/people/new/", {**body, "team": org["east"].pk})
    assert response.status_code == 302
    assert User.objects.get(username="east_new").team == org["east"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"team": "south"}, "team"),
        ({"team": ""}, "team"),
    ],
)
def test_a_manager_cannot_create_an_admin_or_outside_their_subtree(
    org: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    body = {"username": "sneaky", "password": "Str0ng-pass!", "role": "rep", "level": "junior"}
    body["team"] = org["east"].pk
    body.update({k: org[v].pk if v in org else v for k, v in changes.items()})
    response = signed_in(org["east_manager"]).post("/console/people/new/", body)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not User.objects.filter(username="sneaky").exists()
    assert AuditLog.objects.count() == 0


def test_a_new_user_needs_a_free_username_and_a_strong_password(org: dict[str, Any]) -> None:
    client = signed_in(org["admin"])
    body = {"username": "REP_A", "password": "Str0ng-pass!", "role": "rep", "level": "junior"}
    response = client.post("/console/people/new/", body)
    assert response.status_code == 400 and "username" in response.context["form"].errors
    response = client.post("/console/people/new/", {**body, "username": "x1", "password": "1"})
    assert response.status_code == 400 and "password" in response.context["form"].errors
    assert not User.objects.filter(username="x1").exists()


def test_an_admin_edits_a_user_with_before_and_after(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    response = signed_in(org["admin"]).post(
        f"/console/people/{rep.pk}/",
        user_post(rep, display_name="王甲", team=org["south"].pk, role="manager"),
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert (rep.display_name, rep.team, rep.role) == ("王甲", org["south"], "manager")
    change = AuditLog.objects.get(action=AuditLog.Action.USER_CHANGE)
    assert change.detail == {
        "before": {"display_name": "REP_A", "team": org["east"].pk},
        "after": {"display_name": "王甲", "team": org["south"].pk},
    }
    role = AuditLog.objects.get(action=AuditLog.Action.ROLE_CHANGE)
    assert role.detail == {"before": "rep", "after": "manager"}


def test_a_password_reset_is_audited_and_revokes_the_tokens(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    services.issue_token(rep, device="phone", audited=False)
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/", user_post(rep, password="An0ther-pass!")
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password("An0ther-pass!")
    assert AuditLog.objects.filter(action=AuditLog.Action.PASSWORD_CHANGE).count() == 1
    assert not services.tokens_of(rep).exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.USER_CHANGE).exists()


def test_a_forged_admin_role_from_a_manager_changes_nothing(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    client = signed_in(org["east_manager"])
    response = client.post(
        f"/console/people/{rep.pk}/", user_post(rep, role="admin", display_name="升级")
    )
    assert response.status_code == 400 and "role" in response.context["form"].errors
    rep.refresh_from_db()
    assert (rep.role, rep.display_name, rep.is_superuser) == (
        "rep",
        org["rep_a"].display_name,
        False,
    )
    assert AuditLog.objects.count() == 0


def test_the_service_refuses_a_manager_granting_admin(org: dict[str, Any]) -> None:
    """The form offers no admin role to a manager; the service refuses it all the same."""
    manager, rep = org["east_manager"], org["rep_a"]
    with pytest.raises(HighSeasError) as refused:
        services.change_user(manager, rep, role="admin")
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    with pytest.raises(HighSeasError):
        services.change_user(manager, org["rep_c"], display_name="x")
    with pytest.raises(HighSeasError):
        services.change_user(manager, rep, team=org["south"])
    with pytest.raises(HighSeasError):
        services.add_user(manager, username="m2", password="Str0ng-pass!", team=org["south"])
    assert services.change_user(manager, rep, role="manager").role == "manager"
    assert User.objects.get(pk=org["rep_c"].pk).display_name == org["rep_c"].display_name
    assert not User.objects.filter(username="m2").exists()


def test_a_manager_cannot_move_a_user_out_of_their_subtree(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/", user_post(rep, team=org["south"].pk)
    )
    assert response.status_code == 400 and "team" in response.context["form"].errors
    assert User.objects.get(pk=rep.pk).team == org["east"]
    assert change_rows() == 0


def test_fields_the_form_does_not_offer_are_ignored(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    response = signed_in(org["admin"]).post(
        f"/console/people/{rep.pk}/",
        user_post(rep, username="hijacked", is_superuser="on", is_staff="on", display_name="甲"),
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert (rep.username, rep.is_superuser, rep.is_staff, rep.display_name) == (
        "rep_a",
        False,
        False,
        "甲",
    )


def test_nobody_changes_their_own_role_or_deactivates_themselves(org: dict[str, Any]) -> None:
    manager = org["east_manager"]
    client = signed_in(manager)
    for changes in ({"role": "rep"}, {"is_active": ""}):
        response = client.post(f"/console/people/{manager.pk}/", user_post(manager, **changes))
        assert response.status_code == 400
        assert response.context["refused"] == "permission_denied"
    manager.refresh_from_db()
    assert (manager.role, manager.is_active) == ("manager", True)
    assert change_rows() == 0


def test_deactivating_a_rep_who_holds_customers_points_to_the_handover(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    rep = org["rep_a"]
    make_customer(rep, owner=rep, pool=org["east_pool"])
    client = signed_in(org["east_manager"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(f"/console/people/{rep.pk}/", user_post(rep, is_active=""))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-refusal="handover_required"' in page
    assert f'href="/console/departures/{rep.pk}/" data-handover-link' in page
    assert "Hand over this user&#x27;s customers before deactivating them." in page
    assert User.objects.get(pk=rep.pk).is_active
    assert change_rows() == 0


def test_deactivating_a_rep_who_holds_nothing_is_audited(org: dict[str, Any]) -> None:
    rep = org["rep_b"]
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/", user_post(rep, is_active="")
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=rep.pk).is_active
    row = AuditLog.objects.get(action=AuditLog.Action.USER_DEACTIVATED)
    assert (row.actor, row.target_id) == (org["east_manager"], str(rep.pk))
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/", user_post(User.objects.get(pk=rep.pk), is_active="on")
    )
    reactivated = AuditLog.objects.get(action=AuditLog.Action.USER_CHANGE)
    assert reactivated.detail == {"before": {"is_active": False}, "after": {"is_active": True}}


# --- teams --------------------------------------------------------------------------------


def test_an_admin_creates_and_renames_a_team_with_audit_rows(org: dict[str, Any]) -> None:
    client = signed_in(org["admin"])
    response = client.post(
        "/console/teams/",
        {"name": "华北销售部", "parent": org["head"].pk, "manager": org["south_manager"].pk},
    )
    assert response.status_code == 302
    team = Team.objects.get(name="华北销售部")
    assert (team.parent, team.manager) == (org["head"], org["south_manager"])
    created = AuditLog.objects.get(action=AuditLog.Action.TEAM_CREATE)
    assert created.detail["after"] == {
        "name": "华北销售部",
        "parent": org["head"].pk,
        "manager": org["south_manager"].pk,
    }
    body = {"name": "华北大区", "parent": org["head"].pk, "manager": org["south_manager"].pk}
    assert client.post(f"/console/teams/{team.pk}/", body).status_code == 302
    changed = AuditLog.objects.get(action=AuditLog.Action.TEAM_CHANGE)
    assert changed.detail == {"before": {"name": "华北销售部"}, "after": {"name": "华北大区"}}
    page = html(client.get("/console/teams/"))
    assert f'data-team="{team.pk}"' in page and "华北大区" in page


def test_a_team_moves_under_another_but_never_under_itself(org: dict[str, Any]) -> None:
    client = signed_in(org["admin"])
    east, south, head = org["east"], org["south"], org["head"]
    body = {"name": east.name, "parent": south.pk, "manager": org["east_manager"].pk}
    assert client.post(f"/console/teams/{east.pk}/", body).status_code == 302
    east.refresh_from_db()
    assert east.parent == south and east.path.startswith(south.path)
    response = client.post(f"/console/teams/{head.pk}/", {"name": head.name, "parent": east.pk})
    assert response.status_code == 400 and "parent" in response.context["form"].errors
    with pytest.raises(HighSeasError) as refused:
        services.change_team(org["admin"], head, parent=east)
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert Team.objects.get(pk=head.pk).parent is None
    assert AuditLog.objects.filter(action=AuditLog.Action.TEAM_CHANGE).count() == 1


def test_a_manager_creates_a_sub_team_only_under_their_own(org: dict[str, Any]) -> None:
    client = signed_in(org["east_manager"])
    ok = client.post("/console/teams/", {"name": "华东一组", "parent": org["east"].pk})
    assert ok.status_code == 302
    assert Team.objects.get(name="华东一组").parent == org["east"]
    for parent in (org["south"].pk, org["head"].pk, ""):
        response = client.post("/console/teams/", {"name": "越权组", "parent": parent})
        assert response.status_code == 400 and "parent" in response.context["form"].errors
    assert not Team.objects.filter(name="越权组").exists()
    with pytest.raises(HighSeasError):
        services.add_team(org["east_manager"], name="越权组", parent=org["south"])
    assert AuditLog.objects.filter(action=AuditLog.Action.TEAM_CREATE).count() == 1


def test_a_manager_renames_their_team_but_cannot_hand_it_to_someone_else(
    org: dict[str, Any],
) -> None:
    manager, east = org["east_manager"], org["east"]
    other = services.add_user(
        org["admin"], username="mgr2", password="Str0ng-pass!", role="manager", team=east
    )
    client = signed_in(manager)
    body = {"name": "华东大区", "parent": org["head"].pk, "manager": manager.pk}
    assert client.post(f"/console/teams/{east.pk}/", body).status_code == 302
    page = html(client.get(f"/console/teams/{east.pk}/"))
    assert 'name="manager" disabled' in page or "disabled" in page.split('name="manager"')[1][:200]
    forged = client.post(f"/console/teams/{east.pk}/", {**body, "manager": other.pk})
    assert forged.status_code == 302  # the disabled field keeps its value
    with pytest.raises(HighSeasError) as refused:
        services.change_team(manager, east, manager=other)
    assert refused.value.code is ErrorCode.PERMISSION_DENIED
    east.refresh_from_db()
    assert (east.name, east.manager) == ("华东大区", manager)
    assert AuditLog.objects.filter(action=AuditLog.Action.TEAM_CHANGE).count() == 1


def test_a_team_manager_must_be_a_manager(org: dict[str, Any]) -> None:
    response = signed_in(org["admin"]).post(
        "/console/teams/", {"name": "销售组", "parent": org["east"].pk, "manager": org["rep_a"].pk}
    )
    assert response.status_code == 400 and "manager" in response.context["form"].errors
    with pytest.raises(HighSeasError) as refused:
        services.add_team(org["admin"], name="销售组", manager=org["rep_a"])
    assert refused.value.code is ErrorCode.VALIDATION_ERROR
    assert not Team.objects.filter(name="销售组").exists()


# --- rep profiles -------------------------------------------------------------------------


def profile_post(**changes: Any) -> dict[str, Any]:
    body = {
        "level": "junior",
        "industries": "",
        "regions": "",
        "product_lines": "",
        "holding_cap_override": "",
        "daily_quota_override": "",
        "weekly_quota_override": "",
    }
    return {**body, **changes}


def test_a_manager_sets_skills_level_and_limits(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/profile/",
        profile_post(
            level="senior",
            industries="软件、制造业",
            regions="浙江, 上海",
            daily_quota_override="3",
            weekly_quota_override="12",
        ),
    )
    assert response.status_code == 302
    profile = RepProfile.objects.get(user=rep)
    assert profile.level == "senior"
    assert profile.skills == {"industries": ["软件", "制造业"], "regions": ["浙江", "上海"]}
    assert (profile.daily_quota_override, profile.weekly_quota_override) == (3, 12)
    assert profile.holding_cap_override is None
    row = AuditLog.objects.get(action=AuditLog.Action.PROFILE_CHANGE)
    assert row.detail["before"] == {
        "level": "junior",
        "skills": {},
        "daily_quota_override": None,
        "weekly_quota_override": None,
    }
    assert row.detail["after"]["daily_quota_override"] == 3
    page = html(signed_in(org["east_manager"]).get(f"/console/people/{rep.pk}/profile/"))
    assert "软件、制造业" in page and 'data-fact="daily">3<' in page


def test_a_profile_post_cannot_set_the_leave_or_another_field(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/profile/",
        profile_post(leave_from="2026-01-01", leave_until="2026-01-09", is_active="", user="1"),
    )
    assert response.status_code == 302
    profile = RepProfile.objects.get(user=rep)
    assert (profile.leave_from, profile.user_id) == (None, rep.pk)
    assert User.objects.get(pk=rep.pk).is_active
    assert change_rows() == 0  # nothing the form offers changed
    with pytest.raises(HighSeasError) as refused:
        services.change_profile(org["east_manager"], rep, leave_from=None)
    assert refused.value.code is ErrorCode.VALIDATION_ERROR


def test_a_bad_limit_is_refused(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/profile/", profile_post(daily_quota_override="-1")
    )
    assert response.status_code == 400
    assert "daily_quota_override" in response.context["form"].errors
    assert RepProfile.objects.get(user=rep).daily_quota_override is None
    with pytest.raises(HighSeasError):
        services.change_profile(org["admin"], rep, holding_cap_override=True)


def test_a_cap_lowered_below_the_holdings_is_recorded_for_the_check(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The rep keeps their customers and gains none until under the cap; the lowering is a
    cap_override row for the rep, which ``highseas check`` reads, so it flags nothing."""
    rep = org["rep_a"]
    for _ in range(3):
        make_customer(rep, owner=rep, pool=org["east_pool"])
    client = signed_in(org["east_manager"])
    response = client.post(
        f"/console/people/{rep.pk}/profile/", profile_post(holding_cap_override="1")
    )
    assert response.status_code == 302
    assert any("3" in m and "1" in m for m in messages_of(client.get(response["Location"])))
    assert Customer.objects.filter(owner=rep).count() == 3
    row = AuditLog.objects.get(action=AuditLog.Action.CAP_OVERRIDE)
    assert row.detail == {
        "receiver": rep.pk,
        "reason": "profile_cap_lowered",
        "holdings": 3,
        "limit": 1,
    }
    report = CheckReport()
    check_holding_caps(report)
    assert "holding_cap_exceeded" not in report.problems, report.examples


def test_an_unrecorded_cap_lowering_would_be_flagged(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    """The control of the test above: the same lowering written past the service is
    flagged, so the recorded row is what keeps the check clean."""
    rep = org["rep_a"]
    for _ in range(3):
        make_customer(rep, owner=rep, pool=org["east_pool"])
    RepProfile.objects.filter(user=rep).update(holding_cap_override=1)
    report = CheckReport()
    check_holding_caps(report)
    assert report.problems.get("holding_cap_exceeded") == 1


def test_a_cap_above_the_holdings_records_no_override(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    rep = org["rep_a"]
    make_customer(rep, owner=rep, pool=org["east_pool"])
    services.change_profile(org["admin"], rep, holding_cap_override=5)
    services.change_profile(org["admin"], rep, holding_cap_override=1)
    assert not AuditLog.objects.filter(action=AuditLog.Action.CAP_OVERRIDE).exists()
    assert AuditLog.objects.filter(action=AuditLog.Action.PROFILE_CHANGE).count() == 2


# --- leave --------------------------------------------------------------------------------


def test_a_leave_is_recorded_through_record_leave_and_reschedules(
    org: dict[str, Any], make_customer: Callable[..., Customer]
) -> None:
    RecyclePolicy.objects.filter(pool=org["east_pool"]).update(idle_days=10, warn_days=2)
    rep = org["rep_a"]
    customer = make_customer(rep, owner=rep, pool=Pool.objects.get(pk=org["east_pool"].pk))
    due = Customer.objects.get(pk=customer.pk).recycle_due_at
    assert due is not None
    today = timezone.localdate()
    response = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/leave/",
        {
            "leave_from": today.isoformat(),
            "leave_until": (today + 4 * DAY).isoformat(),
            "cover": org["rep_b"].pk,
        },
    )
    assert response.status_code == 302
    profile = RepProfile.objects.get(user=rep)
    assert (profile.leave_from, profile.leave_cover) == (today, org["rep_b"])
    assert Customer.objects.get(pk=customer.pk).recycle_due_at > due
    row = AuditLog.objects.get(action=AuditLog.Action.PROFILE_CHANGE)
    assert row.detail["before"] == {"leave_from": None, "leave_until": None, "leave_cover": None}
    assert row.detail["after"]["leave_until"] == (today + 4 * DAY).isoformat()
    cleared = signed_in(org["east_manager"]).post(
        f"/console/people/{rep.pk}/leave/", {"leave_from": "", "leave_until": ""}
    )
    assert cleared.status_code == 302
    assert RepProfile.objects.get(user=rep).leave_from is None
    assert Customer.objects.get(pk=customer.pk).recycle_due_at == due


def test_a_wrong_leave_is_refused_and_leaves_nothing(org: dict[str, Any]) -> None:
    rep = org["rep_a"]
    client = signed_in(org["east_manager"])
    for body in (
        {"leave_from": "2026-03-05", "leave_until": "2026-03-01"},
        {"leave_from": "2026-03-05", "leave_until": ""},
        {"leave_from": "2026-03-01", "leave_until": "2026-03-05", "cover": org["rep_c"].pk},
    ):
        response = client.post(f"/console/people/{rep.pk}/leave/", body)
        assert response.status_code == 400, body
    assert RepProfile.objects.get(user=rep).leave_from is None
    assert change_rows() == 0


def test_the_profile_page_reads_in_english(org: dict[str, Any]) -> None:
    client = signed_in(org["admin"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = html(client.get(f"/console/people/{org['rep_a'].pk}/profile/"))
    assert "Personal limits" in page and "Save the leave" in page


def test_the_django_admin_shows_a_reps_limits_but_changes_them_only_through_the_profile_page(
    org: dict[str, Any],
) -> None:
    rep = org["rep_a"]
    answer = change_in_admin(
        org["admin"],
        rep,
        **{
            "profile-0-holding_cap_override": "1",
            "profile-0-daily_quota_override": "1",
            "profile-0-weekly_quota_override": "1",
        },
    )
    assert answer.status_code == 302
    profile = RepProfile.objects.get(user=rep)
    assert (
        profile.holding_cap_override,
        profile.daily_quota_override,
        profile.weekly_quota_override,
    ) == (None, None, None)
