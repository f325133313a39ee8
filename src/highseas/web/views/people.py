"""People in the manager console: users, teams and rep profiles (skills, level, limits, leave).

Admins manage everyone; managers the people and teams of their subtree. Every decision is the
accounts services' (``add_user``, ``change_user``, ``add_team``, ``change_team``,
``change_profile``), and a leave is recorded by ``pools.leave.record_leave``, which reschedules
the rep's customers. These views parse a form that offers only what the viewer may choose,
call one service, and render its answer; a rep gets 403 on every page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from highseas.accounts import services
from highseas.accounts.models import RepProfile, Role, Team, User
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.pools.leave import record_leave
from highseas.routing.departures import receivers_for
from highseas.web.access import manager_required
from highseas.web.people_forms import (
    LeaveForm,
    PeopleFilterForm,
    ProfileForm,
    TeamForm,
    UserForm,
)
from highseas.web.responses import viewer_of
from highseas.web.views.edit import _show_refusal

LISTED = 500


def _actor(request: HttpRequest) -> User:
    return viewer_of(request).user


def _teams(actor: User) -> QuerySet[Team]:
    """The teams the viewer may put people in or under (a plain queryset, for choices)."""
    ids = services.managed_team_ids(actor)
    teams = Team.objects.all() if ids is None else Team.objects.filter(pk__in=ids)
    return teams.order_by("path")


def _person(actor: User, user_id: int) -> User:
    user = services.manageable_users(actor).filter(pk=user_id).first()
    if user is None:
        raise Http404
    return user


def _context(request: HttpRequest, tab: str, **more: Any) -> dict[str, Any]:
    return {"section": "console", "tab": "people", "people_tab": tab, **more}


def _status(form: Any) -> int:
    return 400 if form.is_bound and form.errors else 200


@manager_required
def people_list(request: HttpRequest) -> HttpResponse:
    """The people the viewer manages: name, username, role, team, active, holdings."""
    actor = _actor(request)
    form = PeopleFilterForm(request.GET or None, teams=_teams(actor))
    users = services.manageable_users(actor)
    if form.is_valid():
        query, team = form.cleaned_data["q"].strip(), form.cleaned_data["team"]
        if query:
            users = users.filter(
                Q(username__icontains=query)
                | Q(display_name__icontains=query)
                | Q(email__icontains=query)
            )
        if team is not None:
            users = users.filter(team__path__startswith=team.path)
    users = users.order_by("-is_active", "team__path", "display_name", "username")
    total = users.count()
    context = _context(
        request, "users", form=form, users=users[:LISTED], total=total, shown=min(total, LISTED)
    )
    return render(request, "web/people/list.html", context)


def _user_form(request: HttpRequest, actor: User, user: User | None) -> UserForm:
    """A new user's form (``user`` None) or a user's, offering the roles and teams the
    viewer may give."""
    return UserForm(
        request.POST if request.method == "POST" else None,
        roles=services.grantable_roles(actor),
        teams=_teams(actor),
        team_required=services.managed_team_ids(actor) is not None,
        user=user,
    )


@manager_required
def user_new(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = _user_form(request, actor, None)
    refused = ""
    if form.is_bound and form.is_valid():
        try:
            user = services.add_user(actor, **form.service_fields())
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
        else:
            messages.success(request, _("%(name)s is added.") % {"name": user.label})
            return HttpResponseRedirect(reverse("web:person", args=[user.pk]))
    context = _context(request, "users", form=form, refused=refused)
    return render(request, "web/people/user_new.html", context, status=_status(form))


@manager_required
def person(request: HttpRequest, user_id: int) -> HttpResponse:
    """One user: their name, role, team, active switch and a new password."""
    actor = _actor(request)
    user = _person(actor, user_id)
    form = _user_form(request, actor, user)
    refused, handover = "", ""
    if form.is_bound and form.is_valid():
        fields = form.service_fields()
        try:
            if fields:
                services.change_user(actor, user, **fields)
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
            if refusal.code is ErrorCode.HANDOVER_REQUIRED:
                handover = reverse("web:departure", args=[user.pk])
            user = _person(actor, user_id)  # the refused change left nothing behind
        else:
            messages.success(request, _("Saved.") if fields else _("Nothing changed."))
            return HttpResponseRedirect(reverse("web:person", args=[user.pk]))
    context = _context(
        request,
        "users",
        person=user,
        form=form,
        refused=refused,
        handover=handover,
        is_self=user.pk == actor.pk,
    )
    return render(request, "web/people/user.html", context, status=_status(form))


def _profile(user: User) -> RepProfile:
    return RepProfile.objects.filter(user=user).select_related("leave_cover").first() or (
        RepProfile(user=user)
    )


@manager_required
def profile(request: HttpRequest, user_id: int) -> HttpResponse:
    """A rep's level, skills and personal limits, and their leave (its own form)."""
    actor = _actor(request)
    user = _person(actor, user_id)
    form = ProfileForm(request.POST if request.method == "POST" else None, profile=_profile(user))
    refused = ""
    if form.is_bound and form.is_valid():
        try:
            saved = services.change_profile(actor, user, **form.service_fields())
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
        else:
            messages.success(request, _("Saved."))
            cap, held = saved.holding_cap_override, services.held_customers(user.pk)
            if cap is not None and held > cap:
                messages.warning(
                    request,
                    _(
                        "%(name)s holds %(held)s customers, more than the new cap of %(cap)s: "
                        "they keep them and gain none until under it."
                    )
                    % {"name": user.label, "held": held, "cap": cap},
                )
            return HttpResponseRedirect(reverse("web:person_profile", args=[user.pk]))
    leave_form = LeaveForm(None, **_leave_args(request, user))
    return _profile_page(request, user, form, leave_form, refused)


def _leave_args(request: HttpRequest, user: User) -> dict[str, Any]:
    return {"profile": _profile(user), "covers": receivers_for(viewer_of(request), user.pk)}


def _profile_page(
    request: HttpRequest,
    user: User,
    form: ProfileForm,
    leave: LeaveForm,
    refused: str = "",
) -> HttpResponse:
    context = _context(
        request,
        "users",
        person=user,
        form=form,
        leave=leave,
        refused=refused,
        rep_profile=_profile(user),
        held=services.held_customers(user.pk),
    )
    status = 400 if form.errors or leave.errors else 200
    return render(request, "web/people/profile.html", context, status=status)


@manager_required
def leave(request: HttpRequest, user_id: int) -> HttpResponse:
    """Record or clear a rep's leave through ``record_leave`` (the rep's customers are
    rescheduled in the same transaction)."""
    actor = _actor(request)
    user = _person(actor, user_id)
    to = reverse("web:person_profile", args=[user.pk])
    if request.method != "POST":
        return HttpResponseRedirect(to)
    form = LeaveForm(request.POST, **_leave_args(request, user))
    refused = ""
    if form.is_valid():
        try:
            record_leave(viewer_of(request), user.pk, **form.service_fields())
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
        else:
            messages.success(request, _("The leave is saved; the rep's customers follow it."))
            return HttpResponseRedirect(to)
    return _profile_page(request, user, ProfileForm(None, profile=_profile(user)), form, refused)


def _team_form(request: HttpRequest, actor: User, team: Team | None) -> TeamForm:
    managers = services.manageable_users(actor).filter(
        role__in=[Role.MANAGER, Role.ADMIN], is_active=True
    )
    return TeamForm(
        request.POST if request.method == "POST" else None,
        parents=_teams(actor),
        managers=User.objects.filter(pk__in=managers.values("pk")).order_by("username"),
        parent_required=services.managed_team_ids(actor) is not None,
        team=team,
    )


@manager_required
def teams(request: HttpRequest) -> HttpResponse:
    """The team tree the viewer manages, and a form for a new team."""
    actor = _actor(request)
    form = _team_form(request, actor, None)
    refused = ""
    if form.is_bound and form.is_valid():
        try:
            team = services.add_team(actor, **form.service_fields())
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
        else:
            messages.success(request, _("Team %(name)s is added.") % {"name": team.name})
            return HttpResponseRedirect(reverse("web:teams"))
    tree = [(team, max(team.path.count("/") - 2, 0)) for team in services.manageable_teams(actor)]
    depth = min((level for _team, level in tree), default=0)
    context = _context(
        request,
        "teams",
        tree=[(team, level - depth) for team, level in tree],
        form=form,
        refused=refused,
    )
    return render(request, "web/people/teams.html", context, status=_status(form))


@manager_required
def team(request: HttpRequest, team_id: int) -> HttpResponse:
    """Rename a team, move it under another parent, or name its manager."""
    actor = _actor(request)
    found = services.manageable_teams(actor).filter(pk=team_id).first()
    if found is None:
        raise Http404
    form = _team_form(request, actor, found)
    if services.managed_team_ids(actor) is not None and found.manager_id == actor.pk:
        form.fields["manager"].disabled = True  # only an admin hands a manager's team on
    refused = ""
    if form.is_bound and form.is_valid():
        fields = form.service_fields()
        try:
            if fields:
                services.change_team(actor, found, **fields)
        except HighSeasError as refusal:
            refused = _show_refusal(form, refusal)
            found = services.manageable_teams(actor).get(pk=team_id)
        else:
            messages.success(request, _("Saved.") if fields else _("Nothing changed."))
            return HttpResponseRedirect(reverse("web:team", args=[found.pk]))
    members = found.members.order_by("-is_active", "display_name", "username")[:LISTED]
    context = _context(request, "teams", team=found, form=form, refused=refused, members=members)
    return render(request, "web/people/team.html", context, status=_status(form))
