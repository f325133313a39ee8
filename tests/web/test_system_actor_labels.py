"""The ledger names the system's own actors in the reader's language, never by their code."""

from __future__ import annotations

import pytest
from django.utils import translation

from highseas.web.present import actor_label


@pytest.mark.parametrize(
    ("raw", "english", "chinese"),
    [
        ("system:web_form", "System (web form)", "系统（官网表单）"),
        ("system:ad_leads", "System (ad leads)", "系统（广告线索）"),
        ("system:rescore", "System (value rescoring)", "系统（价值重评）"),
        ("system:won_repurchase", "System (repurchase window)", "系统（复购窗口期）"),
    ],
)
def test_a_system_actor_reads_in_the_readers_language(raw: str, english: str, chinese: str) -> None:
    with translation.override("en"):
        assert actor_label(None, raw) == english
    with translation.override("zh-hans"):
        assert actor_label(None, raw) == chinese
