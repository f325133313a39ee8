"""Normalized forms of the values the duplicate check compares (SPEC §8).

Four keys, each a pure function of what a person typed:

1. phone → E.164 (``+8613800138000``), China (+86) by default: spaces, dashes, dots,
   brackets, full-width digits, ``+86`` / ``0086`` / ``86`` prefixes and the trunk ``0``
   after them are removed; landlines keep their area code (``010-12345678`` →
   ``+861012345678``); an extension (``转 8001``, ``ext. 12``, ``#3``, a trailing
   ``-8001`` after a complete number) is split off and not part of the key. A number that
   cannot be placed (a bare 8-digit local number, too few digits) has no key;
2. e-mail → trimmed and lower-cased, full-width characters folded; no key when malformed;
3. unified social credit code (统一社会信用代码) → upper-case 18 characters whose check
   character is right (GB 32100-2015); no key otherwise;
4. company name → the core name: full-width folded to half-width, case folded, spaces and
   punctuation dropped, region brackets (``（北京）``, ``(Beijing)``) and legal forms
   (``有限公司``, ``股份有限公司``, ``集团``, ``Co., Ltd.`` …) removed, a leading region
   (``北京``, ``广东省深圳市``) removed, and a branch suffix (``上海分公司``) removed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# --- text folding -------------------------------------------------------------------------

_EXTRA_FOLDS = str.maketrans(
    {
        "。": ".",
        "【": "(",
        "】": ")",
        "〔": "(",
        "〕": ")",
        "［": "(",
        "］": ")",
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "〈": "(",
        "〉": ")",
        "《": "",
        "》": "",
    }
)


def fold(text: str) -> str:
    """Full-width → half-width (NFKC), a few CJK brackets unified, case folded, trimmed."""
    return unicodedata.normalize("NFKC", text).translate(_EXTRA_FOLDS).casefold().strip()


# --- phones -------------------------------------------------------------------------------

CHINA = "86"
_EXTENSION = re.compile(r"^(?P<main>.*?)\s*(?:转|分机|ext\.?|x|#)\s*(?P<ext>\d{1,6})\s*$")
_GROUPS = re.compile(r"\d+")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^(?:10|2\d)\d{8}$|^[3-9]\d{2}\d{7,8}$")
_SERVICE = re.compile(r"^[48]00\d{7}$")  # 400 / 800 numbers
_SEVERAL = re.compile(r"[/;、]|或")


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str
    extension: str = ""


def _national_key(national: str) -> str | None:
    """``+86`` and the national significant number, when it is a mobile, landline or
    400/800 number."""
    if _MOBILE.match(national) or _LANDLINE.match(national) or _SERVICE.match(national):
        return "+" + CHINA + national
    return None


def _e164(main: str) -> str | None:
    digits = "".join(_GROUPS.findall(main))
    international = main.lstrip("(").startswith("+")
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        if digits.startswith(CHINA):
            return _national_key(digits[len(CHINA) :].removeprefix("0"))
        return "+" + digits if 8 <= len(digits) <= 15 else None
    if digits.startswith(CHINA) and len(digits) in (12, 13):  # 86 without +, or a landline
        key = _national_key(digits[len(CHINA) :].removeprefix("0"))
        if key is not None:
            return key
    if digits.startswith("0"):
        return _national_key(digits[1:])
    return _national_key(digits)


@functools.lru_cache(maxsize=8192)
def parse_phone(raw: str) -> PhoneNumber | None:
    """The number in E.164 with its extension apart, or ``None`` when it cannot be placed.
    Remembered (the result is immutable): an import reads each row's number twice, for the
    row's bounds and for its duplicate keys, a batch's rows apart.

    Steps: fold full-width characters; keep the first of several numbers (``/``, ``、``,
    ``;``, ``或``); split an explicit extension (``转``, ``分机``, ``ext``, ``x``, ``#``);
    read the digits with any ``+`` / ``00`` / ``0086`` / ``86`` prefix; failing that, take a
    short last group after a separator (``010-12345678-8001``) as the extension and try
    again."""
    text = _SEVERAL.split(fold(raw), maxsplit=1)[0].strip()
    if not text:
        return None
    extension = ""
    if found := _EXTENSION.match(text):
        text, extension = found["main"], found["ext"]
    if key := _e164(text):
        return PhoneNumber(key, extension)
    groups = _GROUPS.findall(text)
    if not extension and len(groups) >= 3 and len(groups[-1]) <= 5:
        head = text[: text.rfind(groups[-1])]
        if key := _e164(head):
            return PhoneNumber(key, groups[-1])
    return None


def normalize_phone(raw: str) -> str | None:
    parsed = parse_phone(raw)
    return parsed.e164 if parsed else None


# --- e-mail -------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")


def normalize_email(raw: str) -> str | None:
    text = fold(raw).removeprefix("mailto:").strip("<> ").rstrip(".")
    return text if _EMAIL.match(text) else None


# --- unified social credit code (GB 32100-2015) --------------------------------------------

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_CREDIT_VALUES = {char: value for value, char in enumerate(CREDIT_CODE_CHARS)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(body: str) -> str:
    """The 18th character for the first 17: ``31 - Σ(value × 3^i mod 31) mod 31``, where
    31 maps to 0."""
    pairs = zip(body, _CREDIT_WEIGHTS, strict=True)
    total = sum(_CREDIT_VALUES[char] * weight for char, weight in pairs)
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> str | None:
    code = re.sub(r"[\s\-]", "", fold(raw)).upper()
    if len(code) != 18 or any(char not in _CREDIT_VALUES for char in code):
        return None
    return code if credit_code_check_char(code[:17]) == code[17] else None


def is_valid_credit_code(raw: str) -> bool:
    return normalize_credit_code(raw) is not None


# --- company names ------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PROVINCES = _words(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 "
    "山东 河南 湖北 湖南 广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 "
    "广西 西藏 宁夏 新疆 香港 澳门"
)
CITIES = _words(
    "深圳 广州 杭州 南京 苏州 成都 武汉 西安 郑州 长沙 青岛 宁波 厦门 大连 沈阳 "
    "济南 合肥 福州 昆明 哈尔滨 长春 石家庄 太原 南昌 南宁 贵阳 兰州 海口 三亚 "
    "乌鲁木齐 呼和浩特 银川 西宁 拉萨 无锡 常州 佛山 东莞 珠海 中山 惠州 温州 "
    "绍兴 嘉兴 金华 台州 湖州 烟台 潍坊 临沂 泉州 漳州 莆田 徐州 南通 扬州 镇江 "
    "盐城 泰州 连云港 洛阳 宜昌 襄阳 株洲 湘潭 岳阳 常德 衡阳 绵阳 宜宾 唐山 "
    "保定 廊坊 邯郸 秦皇岛 包头 鄂尔多斯 柳州 桂林 江门 汕头 湛江 肇庆 芜湖 蚌埠 "
    "赣州 九江 威海 日照 淄博 济宁 泰安 德州 聊城 鞍山 大庆 南阳 新乡 开封 遵义 "
    "曲靖 昆山 义乌 江阴"
)
REGION_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)
ROMANIZED_REGIONS = frozenset(
    (
        *_words(
            "beijing shanghai tianjin chongqing guangzhou shenzhen hangzhou nanjing "
            "suzhou chengdu wuhan xian xi'an hongkong macau macao china prc "
            "zhejiang jiangsu guangdong shandong fujian sichuan hubei hunan henan "
            "hebei"
        ),
        "xi an",
        "hong kong",
    )
)
LEGAL_FORMS = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "股份合作公司",
    "特殊普通合伙",
    "有限合伙",
    "普通合伙",
    "有限公司",
    "股份公司",
    "集团公司",
    "总公司",
    "公司",
    "集团",
)
BRANCH_FORMS = ("分公司", "分店", "分厂", "办事处", "营业部", "分部", "分行", "支行", "分院")
_ENGLISH_LEGAL = re.compile(
    r"(?:[\s.,&]+|^|(?<=[^a-z0-9]))"
    r"(?:co|company|corp|corporation|inc|incorporated|ltd|limited|llc|plc|gmbh|group|holdings)"
    r"[\s.,]*$"
)
_LEGAL_END = re.compile(f"(?:{'|'.join(LEGAL_FORMS)})$")
_BRANCH_END = re.compile(f"(?:{'|'.join(BRANCH_FORMS)})$")
_BRACKETED = re.compile(r"\(([^()]*)\)")
_NOT_NAME = re.compile(r"[^\w]|_", re.UNICODE)
MIN_CORE = 2  # a legal form goes only when at least this much is left (华为有限公司 → 华为)
MIN_CORE_AFTER_REGION = 3  # a region goes only when more is left: 北京大学 and 北京银行 stay

_REGION_SET = frozenset(
    f"{place}{suffix}" for place in (*PROVINCES, *CITIES) for suffix in ("", *REGION_SUFFIXES)
)
_REGION_LENGTHS = sorted({len(region) for region in _REGION_SET}, reverse=True)


def _is_region(text: str) -> bool:
    return text in _REGION_SET or text in ROMANIZED_REGIONS


def _drop_bracket(found: re.Match[str]) -> str:
    """A bracket naming a region, a country or a legal form goes; any other keeps its
    words without the brackets."""
    inner = found[1].strip()
    if _is_region(inner) or inner in LEGAL_FORMS or inner in ("中国",):
        return ""
    return inner


def _strip_region_prefix(text: str) -> str:
    """The longest region the text starts with goes (a set lookup per possible length)."""
    for length in _REGION_LENGTHS:
        if len(text) - length >= MIN_CORE_AFTER_REGION and text[:length] in _REGION_SET:
            return text[length:]
    return text


def _strip_region_suffix(text: str) -> str:
    for length in _REGION_LENGTHS:
        if len(text) - length >= MIN_CORE_AFTER_REGION and text[-length:] in _REGION_SET:
            return text[:-length]
    return text


def _strip_suffixes(text: str) -> str:
    """Branches (with the region before them) and legal forms off the end, until none is
    left; the earliest-starting, so the longest, form goes first."""
    while True:
        branch = _BRANCH_END.search(text)
        if branch and branch.start() >= MIN_CORE:
            text = _strip_region_suffix(text[: branch.start()])
            continue
        form = _LEGAL_END.search(text)
        if form and form.start() >= MIN_CORE:
            text = text[: form.start()]
            continue
        return text


def _english_core(text: str) -> str:
    while (stripped := _ENGLISH_LEGAL.sub("", text)) != text and stripped:
        text = stripped
    return text


def normalize_company_name(raw: str) -> str:
    """The core of a company name (see the module's rule 4); the folded name itself when
    nothing is left after stripping."""
    folded = fold(raw)
    text = _BRACKETED.sub(_drop_bracket, folded)
    text = _english_core(text.strip())
    text = _NOT_NAME.sub("", text)
    while True:  # 广东省深圳市华为…: a region prefix may hide another, a legal form too
        stripped = _strip_region_prefix(_strip_suffixes(text))
        if stripped == text:
            break
        text = stripped
    return text or _NOT_NAME.sub("", folded)


def normalize_person_name(raw: str) -> str:
    return _NOT_NAME.sub("", fold(raw))
