"""Pinyin keys of core names (``engine.pinyin``), which search matches Latin queries with."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypinyin import lazy_pinyin

from highseas.engine.pinyin import is_pinyin_query, pinyin_keys


@pytest.mark.parametrize(
    ("core", "keys"),
    [
        ("华为", ("huawei", "hw")),
        ("字节跳动科技", ("zijietiaodongkeji", "zjtdkj")),
        ("重庆长安汽车", ("chongqingchanganqiche", "cqcaqc")),  # readings from the phrase
        ("银行行长", ("yinhanghangzhang", "yhhz")),
        ("apple", ("apple", "a")),
        ("3M中国", ("3mzhongguo", "3zg")),
        ("（）", ("", "")),
    ],
)
def test_the_keys_of_a_core_name(core: str, keys: tuple[str, str]) -> None:
    assert pinyin_keys(core) == keys


@given(st.text(alphabet="华为技术重庆长安银行行长科技网络杭州云帆乐都会音乐", max_size=12))
def test_reading_word_by_word_reads_as_pypinyin_reads_the_whole_name(core: str) -> None:
    assert pinyin_keys(core)[0] == "".join(lazy_pinyin(core))


@pytest.mark.parametrize(
    ("text", "is_pinyin"), [("huawei", True), ("hw", True), ("华为", False), ("hw1", False)]
)
def test_what_reads_as_a_pinyin_query(text: str, is_pinyin: bool) -> None:
    assert is_pinyin_query(text) is is_pinyin
