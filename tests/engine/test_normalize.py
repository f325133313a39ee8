"""Normalization of the duplicate keys: real-world Chinese phones, names, e-mails, credit codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highseas.engine.duplicates import (
    DuplicateAction,
    EntryPoint,
    Match,
    MatchKind,
    action_for,
    decide,
    duplicate_keys,
    fuzzy_matches,
)
from highseas.engine.normalize import (
    CREDIT_CODE_CHARS,
    credit_code_check_char,
    normalize_company_name,
    normalize_credit_code,
    normalize_email,
    normalize_phone,
    parse_phone,
)

MOBILE = "+8613800138000"
BEIJING = "+861012345678"
SHENZHEN = "+8675588886666"
SHANGHAI = "+862155551234"

PHONES = [
    ("13800138000", MOBILE),
    ("138-0013-8000", MOBILE),
    ("138 0013 8000", MOBILE),
    ("+86 13800138000", MOBILE),
    ("+86-138-0013-8000", MOBILE),
    ("+86 138 0013 8000", MOBILE),
    ("(+86) 138 0013 8000", MOBILE),
    ("（+86）13800138000", MOBILE),
    ("0086 13800138000", MOBILE),
    ("0086-138-0013-8000", MOBILE),
    ("8613800138000", MOBILE),
    ("86 138 0013 8000", MOBILE),
    ("１３８００１３８０００", MOBILE),
    ("＋８６ １３８－００１３－８０００", MOBILE),
    ("013800138000", MOBILE),
    ("138.0013.8000", MOBILE),
    ("13800138000 / 13912345678", MOBILE),
    ("010-12345678", BEIJING),
    ("(010)12345678", BEIJING),
    ("（010）1234-5678", BEIJING),
    ("010 1234 5678", BEIJING),
    ("+86 10 12345678", BEIJING),
    ("+86 (0)10 1234 5678", BEIJING),
    ("+86-010-12345678", BEIJING),
    ("86-10-12345678", BEIJING),
    ("0086 10 12345678", BEIJING),
    ("(0755)8888-6666", SHENZHEN),
    ("0755-88886666", SHENZHEN),
    ("0755 8888 6666", SHENZHEN),
    ("+86 755 8888 6666", SHENZHEN),
    ("021 5555 1234", SHANGHAI),
    ("021-55551234", SHANGHAI),
    ("（０２１）５５５５－１２３４", SHANGHAI),
    ("0571-8888888", "+865718888888"),
    ("0512-6666 8888", "+8651266668888"),
    ("400-810-8888", "+864008108888"),
    ("400 810 8888", "+864008108888"),
    ("800-820-8820", "+868008208820"),
    ("+852 2345 6789", "+85223456789"),
    ("00852-23456789", "+85223456789"),
    ("+1 (202) 555-0100", "+12025550100"),
    ("001-202-555-0100", "+12025550100"),
    ("88886666", None),
    ("12345", None),
    ("110", None),
    ("", None),
    ("电话待补充", None),
]

EXTENSIONS = [
    ("010-12345678 转 8001", BEIJING, "8001"),
    ("010-12345678转8001", BEIJING, "8001"),
    ("010-12345678-8001", BEIJING, "8001"),
    ("0755-88886666 ext. 12", SHENZHEN, "12"),
    ("0755-88886666 x12", SHENZHEN, "12"),
    ("021-55551234#3", SHANGHAI, "3"),
    ("021-55551234 分机 606", SHANGHAI, "606"),
    ("400-810-8888 转 1", "+864008108888", "1"),
]

EMAILS = [
    ("zhang.san@example.com", "zhang.san@example.com"),
    ("  Zhang.San@Example.COM ", "zhang.san@example.com"),
    ("ＺＨＡＮＧ＠ＱＱ．ＣＯＭ", "zhang@qq.com"),
    ("li@163。com", "li@163.com"),
    ("mailto:Sales@ByteDance.com", "sales@bytedance.com"),
    ("<wang@sina.com.cn>", "wang@sina.com.cn"),
    ("wang@sina.com.cn.", "wang@sina.com.cn"),
    ("张三@公司.中国", "张三@公司.中国"),
    ("not-an-email", None),
    ("a@b", None),
    ("two@@at.com", None),
    ("", None),
]

NAMES = [
    ("北京字节跳动科技有限公司", "字节跳动科技"),
    ("字节跳动科技（北京）有限公司", "字节跳动科技"),
    ("字节跳动科技(北京)有限公司", "字节跳动科技"),
    ("字节跳动科技【北京】有限公司", "字节跳动科技"),
    ("北京字节跳动科技有限公司上海分公司", "字节跳动科技"),
    ("北京市字节跳动科技有限公司", "字节跳动科技"),
    ("华为技术有限公司", "华为技术"),
    ("深圳市华为技术有限公司", "华为技术"),
    ("广东省深圳市华为技术有限公司", "华为技术"),
    ("华为技术有限公司(Shenzhen)", "华为技术"),
    ("腾讯科技（深圳）有限公司", "腾讯科技"),
    ("阿里巴巴（中国）网络技术有限公司", "阿里巴巴网络技术"),
    ("小米科技有限责任公司", "小米科技"),
    ("北京小米科技有限责任公司", "小米科技"),
    ("中国平安保险（集团）股份有限公司", "中国平安保险"),
    ("万达集团股份有限公司", "万达"),
    ("招商银行股份有限公司上海分行", "招商银行"),
    ("上海华信科技有限公司", "华信科技"),
    ("杭州 华信 科技 有限公司", "华信科技"),
    ("ＡＢＣ科技有限公司", "abc科技"),
    ("Apple Inc.", "apple"),
    ("ABC Co., Ltd.", "abc"),
    ("Huawei Technologies Co., Ltd.", "huaweitechnologies"),
    ("Costco Wholesale Corporation", "costcowholesale"),
    ("新疆维吾尔自治区乌鲁木齐市天山科技有限公司", "天山科技"),
    ("立信会计师事务所（特殊普通合伙）", "立信会计师事务所"),
    # A region is no prefix when too little would remain: these are names, not places.
    ("北京大学", "北京大学"),
    ("中山大学", "中山大学"),
    ("北京银行股份有限公司", "北京银行"),
    ("重庆啤酒股份有限公司", "重庆啤酒"),
]

# Real unified social credit codes (check character verified by GB 32100-2015).
CREDIT_CODES = [
    ("91110108551385082Q", "91110108551385082Q"),
    ("9144030071526726XG", "9144030071526726XG"),
    ("91330100799655058B", "91330100799655058B"),
    ("914403001922038216", "914403001922038216"),
    ("91310000MA1FL4B24G", "91310000MA1FL4B24G"),
    ("91110108551385082q", "91110108551385082Q"),
    (" 9111 0108 5513 8508 2Q ", "91110108551385082Q"),
    ("91110108-551385082Q", "91110108551385082Q"),
    ("９１１１０１０８５５１３８５０８２Ｑ", "91110108551385082Q"),
    ("91110108551385082R", None),  # wrong check character
    ("91110108551385083Q", None),  # one digit off
    ("91110108551385O82Q", None),  # letter O is not in the alphabet
    ("9111010855138508", None),  # too short
    ("", None),
]


@pytest.mark.parametrize(("raw", "expected"), PHONES)
def test_phone_normalizes_to_e164(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(("raw", "expected", "extension"), EXTENSIONS)
def test_phone_extension_is_kept_apart(raw: str, expected: str, extension: str) -> None:
    parsed = parse_phone(raw)
    assert parsed is not None
    assert (parsed.e164, parsed.extension) == (expected, extension)


@pytest.mark.parametrize(("raw", "expected"), EMAILS)
def test_email_normalizes(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), NAMES)
def test_company_name_core(raw: str, expected: str) -> None:
    assert normalize_company_name(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), CREDIT_CODES)
def test_credit_code_is_checked(raw: str, expected: str | None) -> None:
    assert normalize_credit_code(raw) == expected


def test_the_table_has_at_least_sixty_real_world_variants() -> None:
    assert len(PHONES) + len(EXTENSIONS) + len(EMAILS) + len(NAMES) + len(CREDIT_CODES) >= 60


def test_bytedance_written_two_ways_collides_on_name_and_phone() -> None:
    first = duplicate_keys(name="北京字节跳动科技有限公司", phone="138-0013-8000")
    second = duplicate_keys(name="字节跳动科技（北京）有限公司", phone="+86 13800138000")
    assert first.exact_fields(second) == ("phone", "name")


def test_a_persons_name_is_no_key() -> None:
    first = duplicate_keys(name="张伟", kind="person", phone="13800138000")
    second = duplicate_keys(name="张伟", kind="person", phone="13912345678")
    assert (first.name, first.exact_fields(second)) == ("", ())


def test_fuzzy_match_scores_close_names_and_skips_the_same_core() -> None:
    matches = fuzzy_matches(
        "华为技术", {1: "华为科技", 2: "华为技术", 3: "东方金桥贸易", 4: "华为技术服务"}
    )
    assert [(m.customer_id, m.kind) for m in matches] == [
        (4, MatchKind.FUZZY),
        (1, MatchKind.FUZZY),
    ]


def test_policy_defaults_to_block_and_reads_each_entry_point() -> None:
    policy = {"manual": "warn", "api": "allow", "import": "nonsense"}
    assert action_for(policy, EntryPoint.MANUAL) is DuplicateAction.WARN
    assert action_for(policy, EntryPoint.API) is DuplicateAction.ALLOW
    assert action_for(policy, EntryPoint.IMPORT) is DuplicateAction.BLOCK
    assert action_for({}, EntryPoint.API) is DuplicateAction.BLOCK


def test_block_refuses_exact_and_warns_on_fuzzy_only_without_exact() -> None:
    exact = Match(1, MatchKind.EXACT, ("phone",), 100.0)
    fuzzy = Match(2, MatchKind.FUZZY, ("name",), 80.0)
    assert decide(DuplicateAction.BLOCK, [exact, fuzzy]).blocking == [exact]
    assert decide(DuplicateAction.BLOCK, [fuzzy]).warnings == [fuzzy]
    assert decide(DuplicateAction.WARN, [exact, fuzzy]).blocking == []
    assert decide(DuplicateAction.WARN, [exact, fuzzy]).warnings == [exact, fuzzy]
    assert decide(DuplicateAction.ALLOW, [exact, fuzzy]) == decide(DuplicateAction.ALLOW, [])


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(mobiles, st.sampled_from(["{}", "+86 {}", "0086-{}", "86{}", "({}) ", "{}转12"]))
def test_every_way_of_writing_a_mobile_gives_one_key(mobile: str, template: str) -> None:
    spaced = f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    for written in (mobile, spaced, f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"):
        assert normalize_phone(template.format(written)) == "+86" + mobile


bodies = st.text(alphabet=CREDIT_CODE_CHARS, min_size=17, max_size=17)


@given(bodies, st.integers(0, 16), st.sampled_from(CREDIT_CODE_CHARS))
def test_a_credit_code_check_catches_any_single_substitution(
    body: str, position: int, replacement: str
) -> None:
    code = body + credit_code_check_char(body)
    assert normalize_credit_code(code) == code
    altered = code[:position] + replacement + code[position + 1 :]
    assert (normalize_credit_code(altered) is None) == (altered != code)
