"""Import columns: which header means which field, and a row's cells as typed values.

``guess_mapping`` recognises Chinese and English headers (客户名称 / 公司名称 / name, 电话 /
手机 / phone …): a header is folded (full-width to half-width, case, spaces, ``_`` and ``-``
dropped) and looked up among each field's names. A mapping is ``{header: field}``; headers
mapped to nothing are ignored.

``parse_row`` turns one row into a ``ParsedRow``: the customer's business fields (still to be
validated by the model's own field rules), the owner's name, and at most one closed deal and
one past activity (history files). Values are read leniently where the meaning is clear
(full-width digits, ``1,200``, ``200人``, ``¥5万``, ``2024年3月1日``, 赢单 / won, A类 / 高)
and refused with the field's name otherwise.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from highseas.customers.choices import (
    ActivityKind,
    CustomerKind,
    CustomerLevel,
    DealStage,
    Source,
)
from highseas.engine.errors import ErrorCode, HighSeasError

CUSTOMER_FIELDS = (
    "name",
    "kind",
    "phone",
    "email",
    "credit_code",
    "province",
    "city",
    "address",
    "industry",
    "employees",
    "source",
    "level",
)
HISTORY_FIELDS = (
    "deal_status",
    "deal_amount",
    "deal_date",
    "activity_at",
    "activity_kind",
    "activity_note",
)
FIELDS = (*CUSTOMER_FIELDS, "owner", *HISTORY_FIELDS)

HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "name": ("客户名称", "公司名称", "企业名称", "客户", "名称", "name", "company", "customer"),
    "kind": ("客户类型", "类型", "kind", "type"),
    "phone": (
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "电话号码",
        "phone",
        "mobile",
        "tel",
    ),
    "email": ("邮箱", "电子邮箱", "邮件", "email", "mail"),
    "credit_code": ("统一社会信用代码", "信用代码", "社会信用代码", "creditcode", "credit"),
    "province": ("省份", "省", "province"),
    "city": ("城市", "市", "city"),
    "address": ("地址", "详细地址", "address"),
    "industry": ("行业", "所属行业", "industry"),
    "employees": ("员工人数", "人数", "员工数", "规模", "employees", "staff"),
    "source": ("来源", "客户来源", "source", "channel"),
    "level": ("等级", "客户等级", "级别", "level", "grade"),
    "owner": ("负责人", "销售", "归属人", "跟进人", "owner", "salesrep", "rep"),
    "deal_status": ("成交状态", "赢单输单", "dealstatus", "deal"),
    "deal_amount": ("成交金额", "金额", "合同金额", "dealamount", "amount"),
    "deal_date": ("成交日期", "成交时间", "dealdate", "closedate", "closedat"),
    "activity_at": (
        "跟进时间",
        "最近跟进",
        "最后跟进时间",
        "最近跟进时间",
        "activityat",
        "lastcontact",
    ),
    "activity_kind": ("跟进方式", "跟进类型", "activitykind"),
    "activity_note": ("跟进记录", "跟进内容", "备注", "activitynote", "note", "notes"),
}
_BY_NAME = {name: target for target, names in HEADER_NAMES.items() for name in names}


def fold_header(header: str) -> str:
    folded = unicodedata.normalize("NFKC", header).casefold()
    return re.sub(r"[\s_\-*:：()（）]+", "", folded)


def guess_mapping(headers: Sequence[str]) -> dict[str, str]:
    """``{header: field}`` for each header recognised; a field goes to its first header."""
    mapping: dict[str, str] = {}
    for header in headers:
        target = _BY_NAME.get(fold_header(header))
        if target and target not in mapping.values():
            mapping[header] = target
    return mapping


def checked_mapping(mapping: dict[str, Any], headers: Sequence[str]) -> dict[str, str]:
    """A mapping the caller gave: known fields, headers of this file, each field once, and
    the name mapped."""
    if not isinstance(mapping, dict):
        raise _mapping_error(_("A mapping is an object of header → field."))
    kept = {str(h): str(f) for h, f in mapping.items() if f}
    unknown = sorted({f for f in kept.values() if f not in FIELDS})
    missing = sorted(h for h in kept if h not in headers)
    twice = sorted({f for f in kept.values() if list(kept.values()).count(f) > 1})
    if unknown or missing or twice:
        raise _mapping_error(
            _("The mapping names unknown fields, absent headers or a field twice."),
            unknown_fields=unknown,
            absent_headers=missing,
            repeated_fields=twice,
        )
    if "name" not in kept.values():
        raise _mapping_error(_("Map a column to the customer's name."), required=["name"])
    return kept


def _mapping_error(detail: str, **errors: Any) -> HighSeasError:
    return HighSeasError(ErrorCode.VALIDATION_ERROR, detail, errors={"mapping": errors or [detail]})


@dataclass
class ParsedRow:
    fields: dict[str, Any]
    owner: str = ""
    deal: dict[str, Any] | None = None
    activity: dict[str, Any] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def _text(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


CHOICE_WORDS: dict[str, dict[str, str]] = {
    "kind": {"公司": "company", "企业": "company", "单位": "company", "个人": "person"},
    "level": {"高": "A", "中": "B", "低": "C", "a类": "A", "b类": "B", "c类": "C"},
    "source": {
        "网站": "web_form",
        "官网": "web_form",
        "网络": "web_form",
        "表单": "web_form",
        "转介绍": "referral",
        "推荐": "referral",
        "介绍": "referral",
        "展会": "exhibition",
        "广告": "advertising",
        "电话": "cold_call",
        "陌拜": "cold_call",
        "电销": "cold_call",
        "合作伙伴": "partner",
        "渠道": "partner",
        "导入": "import",
        "其他": "other",
    },
    "deal_status": {
        "赢单": "won",
        "成交": "won",
        "已成交": "won",
        "输单": "lost",
        "丢单": "lost",
        "未成交": "lost",
    },
    "activity_kind": {
        "电话": "call",
        "拜访": "visit",
        "会议": "meeting",
        "邮件": "email",
        "微信": "wechat",
        "短信": "sms",
        "备注": "note",
    },
}
CHOICES = {
    "kind": CustomerKind,
    "level": CustomerLevel,
    "source": Source,
    "deal_status": {DealStage.WON.value: "", DealStage.LOST.value: ""},
    "activity_kind": ActivityKind,
}


def _choice(name: str, value: str, language: str | None) -> str:
    found = _choice_of(name, value.casefold(), language)
    if found is None:
        raise ValueError(_("not one of the known values"))
    return found


@functools.lru_cache(maxsize=4096)
def _choice_of(name: str, folded: str, language: str | None) -> str | None:
    """The stored value a cell names (its word, value or label in ``language``); remembered,
    since a file names the same few values on every row."""
    words = CHOICE_WORDS[name]
    if folded in words:
        return words[folded]
    for choice in CHOICES[name]:
        choice_value = str(getattr(choice, "value", choice))
        if folded in (choice_value.casefold(), str(getattr(choice, "label", "")).casefold()):
            return choice_value
    return None


def _int(value: str) -> int:
    digits = re.sub(r"[,\s人名]", "", value)
    if not re.fullmatch(r"\d{1,9}", digits):
        raise ValueError(_("not a whole number"))
    return int(digits)


def _amount(value: str) -> Decimal:
    text = re.sub(r"[,\s¥￥元]|rmb|cny", "", value.casefold())
    factor = Decimal(1)
    if text.endswith("万"):
        text, factor = text[:-1], Decimal(10000)
    try:
        amount = Decimal(text) * factor
    except InvalidOperation:
        raise ValueError(_("not an amount")) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 12:
        raise ValueError(_("not an amount"))
    return amount.quantize(Decimal("0.01"))


_DATE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


def _moment(value: str) -> datetime:
    match = _DATE.match(value)
    if not match:
        raise ValueError(_("not a date (YYYY-MM-DD)"))
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise ValueError(_("not a date (YYYY-MM-DD)")) from None


# the other fields' parsers; a field of ``CHOICES`` is read by ``_choice``
PARSERS: dict[str, Callable[[str], Any]] = {
    "employees": _int,
    "deal_amount": _amount,
    "deal_date": _moment,
    "activity_at": _moment,
}


def parse_row(cells: dict[str, str]) -> ParsedRow:
    """One row's cells by field (``values`` of an ``ImportRow``) as typed values."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    language = translation.get_language()  # the choices' labels are read in it
    for name, raw in cells.items():
        text = _text(raw) if name not in ("name", "address", "activity_note") else raw.strip()
        if not text:
            continue
        parser = PARSERS.get(name)
        try:
            if name in CHOICES:
                values[name] = _choice(name, text, language)
            else:
                values[name] = parser(text) if parser else text
        except ValueError as error:
            errors[name] = [str(error)]
    row = ParsedRow(
        fields={name: values[name] for name in CUSTOMER_FIELDS if name in values},
        owner=values.get("owner", ""),
        errors=errors,
    )
    row.fields.setdefault("source", Source.IMPORT.value)
    if "deal_status" in values:
        row.deal = {
            "stage": values["deal_status"],
            "amount": values.get("deal_amount", Decimal(0)),
            "at": values.get("deal_date"),
        }
    elif "deal_amount" in values or "deal_date" in values:
        errors["deal_status"] = [_("a deal needs its status (won or lost)")]
    if "activity_at" in values:
        row.activity = {
            "at": values["activity_at"],
            "kind": values.get("activity_kind", ActivityKind.NOTE.value),
            "note": values.get("activity_note", ""),
        }
    return row


def as_date(moment: datetime | None) -> date | None:
    return moment.date() if moment else None
