"""People in the console, in a real browser: an admin creates a team and a rep in it; the
team's manager sets the rep's skills, level, a claim quota and a leave; the rep's own pages
then count against that quota, and the manager's pages show the leave. Every people page is
shot in Chinese and English at laptop (1280) and phone (390) width, nothing wider than the
screen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from highseas.accounts.models import AuditLog, RepProfile, Team, User
from tests.web.pages import PHONE, fits, shooter

shoot = shooter("people-")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 860}


def test_an_admin_adds_a_team_and_a_rep_and_the_manager_sets_their_profile(
    org: dict[str, Any], sign_in: Any, live_server: Any
) -> None:
    east, manager = org["east"], org["east_manager"]
    admin = sign_in("boss", **LAPTOP)
    admin.click("nav.topnav >> text=管理台")
    admin.click(".console-tabs >> text=人员")
    admin.wait_for_selector("[data-table=people]")
    admin.click("[data-people-tab=teams]")
    admin.fill("#id_name", "华东二组")
    admin.select_option("#id_parent", str(east.pk))
    admin.select_option("#id_manager", str(manager.pk))
    with admin.expect_navigation():
        admin.click("[data-save-team]")
    team = Team.objects.get(name="华东二组")
    admin.locator(f"[data-team='{team.pk}']").wait_for()
    fits(admin)
    shoot(admin, "00-admin-team-tree-zh-laptop")
    assert (team.parent, team.manager) == (east, manager)

    admin.click("[data-new-user]")
    admin.fill("#id_username", "rep_new")
    admin.fill("#id_password", "pw-rep_new")
    admin.fill("#id_display_name", "新销售")
    admin.select_option("#id_role", "rep")
    admin.select_option("#id_team", str(team.pk))
    with admin.expect_navigation():
        admin.click("[data-save-user]")
    admin.wait_for_selector("[data-profile-link]")
    rep = User.objects.get(username="rep_new")
    assert (rep.team, rep.role, rep.check_password("pw-rep_new")) == (team, "rep", True)

    boss = sign_in("mgr_east", **LAPTOP)
    boss.goto(f"{live_server.url}/console/people/")
    boss.locator(f"[data-person='{rep.pk}'] a").first.click()
    boss.click("[data-profile-link]")
    boss.select_option("#id_level", "senior")
    boss.fill("#id_industries", "软件、制造业")
    boss.fill("#id_regions", "浙江，上海")
    boss.fill("#id_daily_quota_override", "2")
    with boss.expect_navigation():
        boss.click("[data-save-profile]")
    assert boss.locator("[data-fact=daily]").inner_text() == "2"
    today = timezone.localdate()
    until = today + timedelta(days=3)
    boss.fill("#id_leave_from", today.isoformat())
    boss.fill("#id_leave_until", until.isoformat())
    boss.select_option("#id_cover", str(org["rep_a"].pk))
    with boss.expect_navigation():
        boss.click("[data-save-leave]")
    boss.locator("[data-fact=leave]").wait_for()
    assert until.isoformat() in boss.locator("[data-fact=leave]").inner_text()
    shoot(boss, "00-manager-profile-saved-zh-laptop")

    profile = RepProfile.objects.get(user=rep)
    assert (profile.level, profile.daily_quota_override) == ("senior", 2)
    assert profile.skills == {"industries": ["软件", "制造业"], "regions": ["浙江", "上海"]}
    assert (profile.leave_from, profile.leave_until, profile.leave_cover) == (
        today,
        until,
        org["rep_a"],
    )
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"team_create", "user_create", "profile_change"} <= actions

    mine = sign_in("rep_new", **LAPTOP)
    mine.goto(f"{live_server.url}/pool/")
    assert mine.locator("[data-quota=daily]").inner_text() == "2/2"
    shoot(mine, "00-rep-pool-quota-zh-laptop")
    assert mine.goto(f"{live_server.url}/console/people/").status == 403


PAGES = [
    ("01-users", "/console/people/"),
    ("02-new-user", "/console/people/new/"),
    ("03-user", "/console/people/{rep}/"),
    ("04-profile", "/console/people/{rep}/profile/"),
    ("05-teams", "/console/teams/"),
    ("06-team", "/console/teams/{team}/"),
]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_every_people_page_fits_in_both_languages(
    org: dict[str, Any], sign_in: Any, live_server: Any, language: str, size: str
) -> None:
    rep, east = org["rep_a"], org["east"]
    RepProfile.objects.filter(user=rep).update(
        skills={"industries": ["软件"], "regions": ["浙江"]}, daily_quota_override=5
    )
    page = sign_in("mgr_east", **(PHONE if size == "phone" else LAPTOP))
    if language == "en":
        page.click("[data-lang=en]")
        page.wait_for_selector("html[lang=en]")
    tag = f"{'zh' if language == 'zh-hans' else 'en'}-{size}"
    for name, url in PAGES:
        page.goto(live_server.url + url.format(rep=rep.pk, team=east.pk))
        page.wait_for_selector(".console-tabs")
        assert page.locator("html").get_attribute("lang") == (
            "en" if language == "en" else "zh-hans"
        )
        fits(page)
        shoot(page, f"{name}-{tag}")
