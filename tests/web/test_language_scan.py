"""Every page a rep, a manager and an admin can reach in the demo-like world speaks one language:
in Chinese no English UI words, in English no Han characters except the data.

The pages are found by following the links of the pages themselves, from the workspace, for
each role (a few of each URL shape). The data is taken out before the scan: every text value
stored in the world (customer names, cities, notes, user and team names …) — except the
texts the system writes itself (notification titles and bodies, ownership reasons), which
must read in the reader's language. What is left must be in the page's language, but for
the proper nouns and codes of ``ALLOWED``.

``KNOWN`` lists what the scan finds today outside the assignment-rule pages, page shape by
page shape: a new finding fails the test, and so does a known one that is gone (so the list
only shrinks).
"""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urlparse

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.utils import translation

from tests.web.pages import signed_in

pytestmark = pytest.mark.django_db

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")  # a single letter is a level or an initial
ALLOWED_WORDS = {
    # proper nouns, codes and units that read the same in both languages
    "HighSeas",
    "English",
    "JSON",
    "CSV",
    "XLSX",
    "API",
    "ID",
    "A",
    "B",
    "C",
    "AUC",
    "Gini",
    "Token",
    "ms",
    "PostgreSQL",
    "SQLite",
    "Excel",
    "WeChat",
    "ok",
    "OK",
    "CRM",
    "Brier",
    "Django",
    "GBK",
    "UTF",
    "all",
    "any",
    "not",
    "field",
    "op",
    "value",
    # Django's own: the boolean icons' alt text, the search icon's, the multi-select hint's
    # key names, and django-axes' untranslated app name
    "True",
    "False",
    "Search",
    "Control",
    "Command",
    "Mac",
    "Axes",
}
ALLOWED_HAN = {"简体中文", "公海"}  # the language switch names itself; the brand's Chinese name
SKIPPED = ("/logout/", "/admin/", "/api/", "/static/", "/set-language/", "/i18n/")
PER_SHAPE = 2
NOT_DATA = {("notify", "notification"), ("pools", "ownershipevent")}


class Text(HTMLParser):
    """The visible text of a page (and its titles, placeholders, labels) and its links."""

    SHOWN_ATTRS = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "datalist", "textarea"):
            self.hidden += 1
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        self.parts.extend(str(found[a]) for a in self.SHOWN_ATTRS if found.get(a))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "datalist", "textarea") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def data_values() -> list[str]:
    """Every text stored in the world, longest first, but the system's own texts."""
    found: set[str] = set()
    for model in apps.get_models():
        if not model.__module__.startswith("highseas."):
            continue
        if (model._meta.app_label, model._meta.model_name) in NOT_DATA:
            continue
        names = [
            f.name
            for f in model._meta.get_fields()
            if isinstance(f, (models.CharField, models.TextField))
            and not getattr(f, "choices", None)
        ]
        for name in names:
            for value in model._default_manager.values_list(name, flat=True).distinct()[:2000]:
                if isinstance(value, str) and value.strip():
                    found.add(value.strip())
    return sorted(found, key=len, reverse=True)


def shape(url: str) -> str:
    return re.sub(r"\d+", "N", urlparse(url).path)


def crawl(client: Client, language: str) -> dict[str, str]:
    """Each reachable page's text, by URL (GET only, HTML only, a few per shape)."""
    client.cookies["django_language"] = language
    seen: dict[str, str] = {}
    per_shape: dict[str, int] = defaultdict(int)
    queue = ["/"]
    while queue:
        url = queue.pop(0)
        if url in seen or per_shape[shape(url)] >= PER_SHAPE:
            continue
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            seen[url] = ""
            continue
        per_shape[shape(url)] += 1
        parser = Text()
        parser.feed(response.content.decode())
        seen[url] = " \n ".join(parser.parts)
        for link in parser.links:
            link = urldefrag(link)[0]
            parsed = urlparse(link)
            if parsed.scheme or parsed.netloc or not parsed.path.startswith("/"):
                continue
            if any(parsed.path.startswith(prefix) for prefix in SKIPPED):
                continue
            queue.append(link)
    return {url: text for url, text in seen.items() if text}


def strip_data(text: str, data: list[str]) -> str:
    for value in data:
        if value in text:
            text = text.replace(value, " ")
    return text


def findings(pages: dict[str, str], language: str, data: list[str]) -> dict[str, set[str]]:
    """Per page shape, the words of the other language."""
    found: dict[str, set[str]] = defaultdict(set)
    for url, text in pages.items():
        text = strip_data(text, data)
        text = re.sub(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", " ", text)  # e-mail addresses
        if language == "en":
            words = {w for w in HAN.findall(text) if w not in ALLOWED_HAN}
        else:
            words = {w for w in WORD.findall(text) if w not in ALLOWED_WORDS}
        if words:
            found[shape(url)].update(words)
    return found


# What the scan finds today outside the rule pages (each for its area's engineer).
KNOWN: dict[str, dict[str, set[str]]] = {
    "zh-hans": {
        # the audit log shows a policy change's before/after as its JSON keys
        "/console/audit/": set(
            [
                "activities",
                "after",
                "appro",
                "approval",
                "cap",
                "claim",
                "cooldown",
                "count",
                "csv",
                "customers",
                "daily",
                "days",
                "due",
                "expiry",
                "false",
                "filters",
                "format",
                "freeze",
                "frozen",
                "holding",
                "hours",
                "in",
                "limit",
                "max",
                "null",
                "own",
                "owned",
                "owner",
                "policy",
                "quota",
                "reclaim",
                "requires",
                "rows",
                "scope",
                "status",
                "view",
                "visible",
                "won",
                "xlsx",
            ]
        ),
    },
    "en": {
        # stored Chinese: a reminder the world writes as plain text
        "/notifications/": {"计划今天回访", "请跟进客户"},  # the world's own plain reminder
    },
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_page_speaks_one_language(world: dict[str, Any], language: str) -> None:
    data = data_values()
    found: dict[str, set[str]] = defaultdict(set)
    for role in ("rep_a", "east_manager", "admin"):
        pages = crawl(signed_in(world[role]), language)
        assert len(pages) >= 5, (role, sorted(pages))
        for page_shape, words in findings(pages, language, data).items():
            found[page_shape] |= words
    known = KNOWN[language]
    new = {s: sorted(w - known.get(s, set())) for s, w in found.items() if w - known.get(s, set())}
    gone = {s: sorted(w - found.get(s, set())) for s, w in known.items() if w - found.get(s, set())}
    assert not new, f"words of the other language on {language} pages: {new}"
    assert not gone, f"fixed, take them off KNOWN: {gone}"


def crawl_admin(client: Client, language: str) -> dict[str, str]:
    """The admin's index, every change list and one change form of each (GET only)."""
    client.cookies["django_language"] = language
    pages: dict[str, str] = {}
    index = client.get("/admin/")
    parser = Text()
    parser.feed(index.content.decode())
    pages["/admin/"] = " \n ".join(parser.parts)
    lists = sorted({u for u in parser.links if re.fullmatch(r"/admin/\w+/\w+/", u)})
    for url in lists:
        response = client.get(url)
        if response.status_code != 200:
            continue
        listing = Text()
        listing.feed(response.content.decode())
        pages[url] = " \n ".join(listing.parts)
        forms = [u for u in listing.links if re.fullmatch(rf"{url}\d+/change/", u)]
        if url == "/admin/accounts/user/":
            forms = []  # the password hash (random) and Django's stored permission names
        for form in forms[:1]:
            change = Text()
            change.feed(client.get(form).content.decode())
            pages[form] = " \n ".join(change.parts)
    return pages


# What the admin scan finds today: the audit log's and the routing decisions' JSON, fields of
# accounts models without verbose names, ledger actor codes, and (in English) a rep's own
# words on a ledger row.
KNOWN_ADMIN: dict[str, dict[str, set[str]]] = {
    "zh-hans": {
        "/admin/accounts/auditlog/": {
            "Action",
            "Actor",
            "Address",
            "At",
            "Target",
            "action",
            "id",
            "type",
        },
        "/admin/accounts/auditlog/N/change/": {
            "leave",
            "mode",
            "pause",
            "Action",
            "Actor",
            "Address",
            "Detail",
            "None",
            "Target",
            "activity",
            "after",
            "approval",
            "before",
            "call",
            "cap",
            "change",
            "claim",
            "contact",
            "cooldown",
            "count",
            "daily",
            "days",
            "deal",
            "destination",
            "effective",
            "email",
            "exempt",
            "expiry",
            "false",
            "first",
            "freeze",
            "frozen",
            "holding",
            "hours",
            "id",
            "idle",
            "in",
            "kinds",
            "level",
            "levels",
            "limit",
            "max",
            "meeting",
            "no",
            "null",
            "open",
            "overrides",
            "policy",
            "quota",
            "reason",
            "reclaim",
            "recycle",
            "repurchase",
            "requires",
            "same",
            "true",
            "type",
            "view",
            "visit",
            "warn",
            "wechat",
            "weekly",
            "won",
        },
        "/admin/accounts/team/": {"Path"},
        "/admin/axes/accessfailurelog/": {"Access", "lock", "out"},
        "/admin/pools/claimrequest/": {"pending"},
        "/admin/pools/claimrequest/N/change/": {"pending"},
        "/admin/pools/ownershipevent/": {
            "claimed",
            "contact",
            "created",
            "first",
            "frozen",
            "limit",
            "recycled",
            "rule",
            "system",
        },
        "/admin/pools/ownershipevent/N/change/": {"customer", "rule", "system"},
        "/admin/pools/pool/N/change/": {"days", "idle"},
        "/admin/routing/assignmentdecision/": {"customer", "run"},
        "/admin/routing/assignmentdecision/N/change/": {
            "None",
            "customer",
            "eligible",
            "id",
            "kind",
            "matched",
            "name",
            "outcome",
            "owner",
            "reason",
            "rule",
            "run",
            "target",
            "user",
        },
    },
    "en": {
        # a rep's own words, kept as typed (the reasons the system writes read in English)
        "/admin/pools/ownershipevent/": {"客户走采购流程"},
    },
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_admin_speaks_one_language(world: dict[str, Any], language: str) -> None:
    from highseas.routing.models import AssignmentRule
    from highseas.routing.services import run_assignment

    AssignmentRule.objects.create(
        name="杭州",
        pool=world["east_pool"],
        target={"user": world["rep_a"].pk},
        conditions={"field": "city", "op": "eq", "value": "杭州"},
    )
    with translation.override("zh-hans"):  # the ledger's reasons in the org's language
        run_assignment(world["admin"], pool=world["east_pool"], dry_run=False)
    pages = crawl_admin(signed_in(world["admin"]), language)
    assert len(pages) >= 10, sorted(pages)
    found = findings(pages, language, data_values())
    known = KNOWN_ADMIN[language]
    new = {s: sorted(w - known.get(s, set())) for s, w in found.items() if w - known.get(s, set())}
    gone = {s: sorted(w - found.get(s, set())) for s, w in known.items() if w - found.get(s, set())}
    assert not new, f"words of the other language in the {language} admin: {new}"
    assert not gone, f"fixed, take them off KNOWN_ADMIN: {gone}"
