"""Names, mobile numbers, e-mail addresses and unified social credit codes."""

from __future__ import annotations

import random
from dataclasses import dataclass

from highseas.demo import data
from highseas.demo.sampling import Weighted, between, chance, one_of

# Affine maps x -> (a*x + b) mod 10**8 with a prime to 10 are bijections: serial numbers map
# to scattered but never repeated 8-digit suffixes.
_SUFFIXES = 10**8
_PHONE_MULTIPLIER, _PHONE_OFFSET = 48_271_813, 20_260_917
_ORG_MULTIPLIER, _ORG_OFFSET = 69_069_007, 31_415_926

_SURNAMES = Weighted(
    [(name, pinyin) for name, pinyin, _ in data.SURNAMES], [weight for *_, weight in data.SURNAMES]
)

# GB 11714 (organization code) and GB 32100 (unified social credit code) check characters.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass(frozen=True, slots=True)
class PersonName:
    name: str
    surname_pinyin: str
    given_pinyin: str

    @property
    def email_local_part(self) -> str:
        return f"{self.given_pinyin}.{self.surname_pinyin}"


def person_name(rng: random.Random) -> PersonName:
    surname, surname_pinyin = _SURNAMES.pick(rng)
    given_pool = data.GIVEN_MALE if chance(rng, 0.55) else data.GIVEN_FEMALE
    characters = [one_of(rng, given_pool) for _ in range(1 if chance(rng, 0.3) else 2)]
    given = "".join(character for character, _ in characters)
    given_pinyin = "".join(pinyin for _, pinyin in characters)
    return PersonName(surname + given, surname_pinyin, given_pinyin)


class NumberPlan:
    """Hands out mobile numbers and organization codes that never repeat within a run."""

    def __init__(self) -> None:
        self._phones = 0
        self._organizations = 0

    def mobile(self, rng: random.Random) -> str:
        self._phones += 1
        suffix = (_PHONE_MULTIPLIER * self._phones + _PHONE_OFFSET) % _SUFFIXES
        return f"{one_of(rng, data.MOBILE_PREFIXES)}{suffix:08d}"

    def credit_code(self, division_code: str) -> str:
        """A unified social credit code (统一社会信用代码) registered in ``division_code``:
        ``9`` (market regulation) ``1`` (enterprise), the division, a 9-character
        organization code with its check digit, and the overall check character."""
        self._organizations += 1
        serial = (_ORG_MULTIPLIER * self._organizations + _ORG_OFFSET) % _SUFFIXES
        organization = f"{serial:08d}"
        organization += _organization_check(organization)
        body = f"91{division_code}{organization}"
        return body + _credit_check(body)


def _organization_check(digits: str) -> str:
    remainder = 11 - sum(int(d) * w for d, w in zip(digits, _ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def _credit_check(body: str) -> str:
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(body, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def company_domain(rng: random.Random, brand_pinyin: str, domain_tags: tuple[str, ...]) -> str:
    tag = one_of(rng, domain_tags)
    joiner = "-" if chance(rng, 0.3) else ""
    return f"{brand_pinyin}{joiner}{tag}{one_of(rng, ('.com', '.com', '.cn', '.com.cn'))}"


def personal_email(rng: random.Random, person: PersonName) -> str:
    domain = one_of(rng, data.PERSONAL_MAIL_DOMAINS)
    if domain in {"qq.com", "foxmail.com"} and chance(rng, 0.7):
        return f"{between(rng, 10_000_000, 3_999_999_999)}@{domain}"
    return f"{person.surname_pinyin}{person.given_pinyin}{between(rng, 1, 999)}@{domain}"


def wechat_id(rng: random.Random, person: PersonName) -> str:
    if chance(rng, 0.4):
        alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
        return "wxid_" + "".join(one_of(rng, alphabet) for _ in range(12))
    return f"{person.given_pinyin}{person.surname_pinyin}{between(rng, 1, 9999)}"
