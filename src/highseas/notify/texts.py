"""System texts kept as a template and its facts, so that each reader reads them in their own
language: a notification stores the English template (a msgid marked with ``gettext_noop``)
and its parameters, and is rendered when read.

1. ``SystemText(template, params, extra)`` is what the system says: ``template % params``
   in the reader's language, then ``extra`` (the user's own words, a note or a name, never
   translated) on a line of its own.
2. A notification written before templates existed has none: it reads as stored.
3. ``parse`` recovers the template and parameters of a stored text from the known templates
   in either language, for the rows written before (their migration).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext_lazy

RECYCLED = gettext_noop("%(count)s of your customers went back to the pool")
WILL_RECYCLE = gettext_noop("%(customer)s will go back to the pool")
FOLLOW_UP_BEFORE = gettext_noop("Follow it up before %(due)s to keep it.")
FOLLOW_UP_WITH = gettext_noop("Follow up with %(customer)s")
NEXT_CONTACT = gettext_noop("Next contact planned for %(when)s.")
BIRTHDAY = gettext_noop("Birthday today: %(contact)s (%(customer)s)")
BIRTHDAY_BODY = gettext_noop("Today is the birthday of %(contact)s of %(customer)s.")
TASK_DUE = gettext_noop("Task due: %(task)s")
DUE_AT = gettext_noop("Due at %(when)s.")
KNOWN = (
    RECYCLED,
    WILL_RECYCLE,
    FOLLOW_UP_BEFORE,
    FOLLOW_UP_WITH,
    NEXT_CONTACT,
    BIRTHDAY,
    BIRTHDAY_BODY,
    TASK_DUE,
    DUE_AT,
)
LANGUAGES = ("zh-hans", "en")
MORE = "…"  # a list of items that goes on


@dataclass(frozen=True)
class SystemText:
    template: str
    params: Mapping[str, Any] = field(default_factory=dict)
    extra: str = ""

    def render(self) -> str:
        return render(self.template, self.params, self.extra)


def render(template: str, params: Mapping[str, Any], extra: str = "") -> str:
    """The text in the active language (module rule 1)."""
    try:
        text = _(template) % dict(params)
    except (KeyError, TypeError, ValueError):
        text = template
    return f"{text}\n{extra}" if extra else text


# counted lines of a digest (``notify.digest``), stored by their key with their facts
LINES = {
    "recycle_within": ngettext_lazy(
        "%(n)s customer will go back to the pool within %(days)s days: %(items)s",
        "%(n)s customers will go back to the pool within %(days)s days: %(items)s",
        "n",
    ),
    "recycle_soon": ngettext_lazy(
        "%(n)s customer will go back to the pool soon: %(items)s",
        "%(n)s customers will go back to the pool soon: %(items)s",
        "n",
    ),
    "assignments": ngettext_lazy(
        "%(n)s assignment or ownership change: %(items)s",
        "%(n)s assignments and ownership changes: %(items)s",
        "n",
    ),
    "mentions": ngettext_lazy("%(n)s mention: %(items)s", "%(n)s mentions: %(items)s", "n"),
    "tasks": ngettext_lazy(
        "%(n)s task notice or reminder: %(items)s",
        "%(n)s task notices and reminders: %(items)s",
        "n",
    ),
    "claim_requests": ngettext_lazy(
        "%(n)s claim request decision: %(items)s",
        "%(n)s claim request decisions: %(items)s",
        "n",
    ),
    "system": ngettext_lazy(
        "%(n)s system notice: %(items)s", "%(n)s system notices: %(items)s", "n"
    ),
}


def render_lines(lines: Iterable[Mapping[str, Any]]) -> str:
    """Counted lines (a digest's groups) in the active language, one a line: each is
    ``{"line": a key of LINES, "n": count, "params": facts}``."""
    shown = []
    for line in lines:
        facts = {name: _listed(value) for name, value in line.get("params", {}).items()}
        facts["n"] = line.get("n", 0)
        try:
            shown.append(str(LINES[line["line"]] % facts))
        except (KeyError, TypeError, ValueError):
            shown.append(str(line.get("line", "")))
    return "\n".join(shown)


def _listed(value: Any) -> Any:
    """A list of items as one text in the active language ("甲、乙…"; "a, b…")."""
    if not isinstance(value, list):
        return value
    more = bool(value) and value[-1] == MORE
    items = [str(item) for item in (value[:-1] if more else value)]
    separator = "、" if (translation.get_language() or "").startswith("zh") else ", "
    return separator.join(items) + (MORE if more else "")


def _pattern(translated: str) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", translated)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
        for index, part in enumerate(parts)
    )
    return re.compile(rf"^{regex}(?:\n(?P<_extra>.*))?$", re.DOTALL)


def parse(text: str, templates: Iterable[str] = KNOWN) -> SystemText | None:
    """The template and parameters a stored ``text`` was rendered from, in either language
    (module rule 3), or None."""
    for template in templates:
        for language in LANGUAGES:
            with translation.override(language):
                match = _pattern(_(template)).match(text)
            if match:
                found = match.groupdict()
                extra = found.pop("_extra") or ""
                return SystemText(template, found, extra)
    return None
