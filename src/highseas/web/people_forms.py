"""The console's people forms: a user, a team, a rep's profile and leave.

Each form offers only what the viewer may choose (the roles they may give, the teams and
managers they manage), so a forged choice is an invalid form, not a call; the accounts
services check every rule again.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from highseas.accounts.models import RepLevel, Role, Team, User
from highseas.web.forms import DateInput, ReceiverField

INDENT = "\u3000"  # an ideographic space per level of the team tree
SEPARATORS = re.compile(r"[,，、;；\n]+")
LIMIT_HELP = _("Empty: the pool's limit. The stricter of the two applies.")


def _limit_field(label: Any) -> forms.IntegerField:
    """A rep's own holding cap or claim quota: empty for the pool's, else 0 to 100,000."""
    return forms.IntegerField(
        label=label, required=False, min_value=0, max_value=100_000, help_text=LIMIT_HELP
    )


class TeamChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A team, shown indented under its parent."""

    def label_from_instance(self, obj: Any) -> str:
        depth = max(obj.path.count("/") - 2, 0)
        return f"{INDENT * depth}{obj.name}"


class PersonField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.label} ({obj.username})"


class PeopleFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or username"), required=False, max_length=100)
    team = TeamChoiceField(
        label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("All")
    )

    def __init__(self, data: Any, *, teams: Any) -> None:
        super().__init__(data)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]


class UserForm(forms.Form):
    """Create a user (``user`` is None) or change one."""

    username = forms.RegexField(
        label=_("Username"),
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        help_text=_("Letters, digits and @ . + - _ only; used to sign in."),
        error_messages={"invalid": _("Letters, digits and @ . + - _ only.")},
    )
    display_name = forms.CharField(label=_("Name"), max_length=100, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=())
    team = TeamChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    level = forms.ChoiceField(label=_("Level"), choices=RepLevel.choices, initial=RepLevel.JUNIOR)
    is_active = forms.BooleanField(label=_("Active"), required=False)
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(
        self,
        data: Any,
        *,
        roles: list[str],
        teams: Any,
        team_required: bool,
        user: User | None = None,
    ) -> None:
        initial: dict[str, Any] = {"role": Role.REP, "is_active": True}
        if user is not None:
            initial = {
                "display_name": user.display_name,
                "email": user.email,
                "role": user.role,
                "team": user.team_id,
                "is_active": user.is_active,
            }
        super().__init__(data, initial=initial)
        self.user = user
        self.fields["role"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in Role.choices if value in roles
        ]
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        self.fields["team"].required = team_required
        if user is None:
            del self.fields["is_active"]
            self.fields["password"].required = True
        else:
            del self.fields["username"], self.fields["level"]
            self.fields["password"].label = _("New password")
            self.fields["password"].help_text = _("Leave empty to keep the current password.")

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"])
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("That username is taken."))
        return username

    def clean_password(self) -> str:
        password = str(self.cleaned_data.get("password") or "")
        if password:
            validate_password(password, self.user)
        return password

    def service_fields(self) -> dict[str, Any]:
        """The changed fields, as ``add_user`` / ``change_user`` take them."""
        data = dict(self.cleaned_data)
        if not data.get("password"):
            data.pop("password", None)
        if self.user is None:
            return data
        return {
            name: value
            for name, value in data.items()
            if name == "password" or value != _current(self.user, name)
        }


def _current(user: User, name: str) -> Any:
    return user.team if name == "team" else getattr(user, name)


class TeamForm(forms.Form):
    """Create a team (``team`` is None) or rename, move or re-manage one."""

    name = forms.CharField(label=_("Team name"), max_length=100)
    parent = TeamChoiceField(
        label=_("Parent team"), queryset=Team.objects.none(), required=False, empty_label="—"
    )
    manager = PersonField(
        label=_("Manager"), queryset=User.objects.none(), required=False, empty_label="—"
    )

    def __init__(
        self,
        data: Any,
        *,
        parents: Any,
        managers: Any,
        parent_required: bool,
        team: Team | None = None,
    ) -> None:
        initial = {}
        if team is not None:
            initial = {"name": team.name, "parent": team.parent_id, "manager": team.manager_id}
            parents = parents.exclude(path__startswith=team.path)
            if team.parent_id is not None:  # shown even when outside the viewer's teams
                parents = (parents | Team.objects.filter(pk=team.parent_id)).distinct()
            if team.manager_id is not None:
                managers = (managers | User.objects.filter(pk=team.manager_id)).distinct()
        super().__init__(data, initial=initial)
        self.team = team
        self.fields["parent"].queryset = parents  # type: ignore[attr-defined]
        self.fields["parent"].required = parent_required and (
            team is None or team.parent_id is not None
        )
        self.fields["manager"].queryset = managers  # type: ignore[attr-defined]

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if self.team is None:
            return data
        now = {"name": self.team.name, "parent": self.team.parent, "manager": self.team.manager}
        return {name: value for name, value in data.items() if value != now[name]}


def _words(raw: str) -> list[str]:
    seen: list[str] = []
    for word in SEPARATORS.split(raw or ""):
        word = word.strip()
        if word and word not in seen:
            seen.append(word)
    return seen


class ProfileForm(forms.Form):
    """A rep's level, skills (routing's ``skill`` strategy) and personal limits."""

    level = forms.ChoiceField(label=_("Level"), choices=RepLevel.choices)
    industries = forms.CharField(
        label=_("Industries"), required=False, max_length=1000, widget=forms.Textarea({"rows": 2})
    )
    regions = forms.CharField(
        label=_("Regions"), required=False, max_length=1000, widget=forms.Textarea({"rows": 2})
    )
    product_lines = forms.CharField(
        label=_("Product lines"),
        required=False,
        max_length=1000,
        widget=forms.Textarea({"rows": 2}),
    )
    holding_cap_override = _limit_field(_("Holding cap"))
    daily_quota_override = _limit_field(_("Daily claim quota"))
    weekly_quota_override = _limit_field(_("Weekly claim quota"))
    SKILLS = ("industries", "regions", "product_lines")

    def __init__(self, data: Any, *, profile: Any) -> None:
        skills = profile.skills if isinstance(profile.skills, dict) else {}
        initial = {
            "level": profile.level,
            "holding_cap_override": profile.holding_cap_override,
            "daily_quota_override": profile.daily_quota_override,
            "weekly_quota_override": profile.weekly_quota_override,
            **{kind: "、".join(map(str, skills.get(kind) or [])) for kind in self.SKILLS},
        }
        super().__init__(data, initial=initial)
        for kind in self.SKILLS:
            self.fields[kind].help_text = _("Separate with commas")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for kind in self.SKILLS:
            if any(len(word) > 50 for word in _words(data.get(kind, ""))):
                self.add_error(kind, _("Each skill is at most 50 characters."))
        return data

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        skills = {kind: _words(data[kind]) for kind in self.SKILLS}
        return {
            "level": data["level"],
            "skills": {kind: words for kind, words in skills.items() if words},
            "holding_cap_override": data["holding_cap_override"],
            "daily_quota_override": data["daily_quota_override"],
            "weekly_quota_override": data["weekly_quota_override"],
        }


class LeaveForm(forms.Form):
    """A rep's leave (休假) and its cover colleague, as ``pools.leave.record_leave`` takes them;
    both dates empty clear the leave."""

    leave_from = forms.DateField(label=_("First day of leave"), required=False, widget=DateInput())
    leave_until = forms.DateField(label=_("Last day of leave"), required=False, widget=DateInput())
    cover = ReceiverField(
        label=_("Covered by"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Nobody"),
        help_text=_("Follows up the rep's customers in pools whose leave mode is cover."),
    )

    def __init__(self, data: Any, *, profile: Any, covers: Any) -> None:
        initial = {
            "leave_from": profile.leave_from,
            "leave_until": profile.leave_until,
            "cover": profile.leave_cover_id,
        }
        super().__init__(data, initial=initial)
        self.fields["cover"].queryset = covers  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("leave_from"), data.get("leave_until")
        if (first is None) != (last is None):
            self.add_error("leave_until", _("Give both days of the leave, or neither."))
        elif first and last and first > last:
            self.add_error("leave_until", _("The last day comes on or after the first."))
        return data

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        cover = data.get("cover")
        return {
            "leave_from": data.get("leave_from"),
            "leave_until": data.get("leave_until"),
            "cover_id": cover.pk if cover is not None else None,
        }
