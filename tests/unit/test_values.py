"""Money, rates, rounding, SIRET and IBAN: the value rules every command relies on."""

from decimal import Decimal

import pytest

from domain.errors import InvalidValue
from domain.values import Rounding, iban, money, rate, rate_of, share_of, siret


@pytest.mark.parametrize(("raw", "expected"), [
    ("9380.00", Decimal("9380.00")), ("9380", Decimal("9380.00")), (Decimal("7000.5"), Decimal("7000.50")),
    (620, Decimal("620.00")), ("0.01", Decimal("0.01")), ("12.300", Decimal("12.30")),
])
def test_money_parses_to_cents(raw, expected):
    parsed = money(raw)
    assert parsed == expected
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize("raw", ["-1.00", "0", "0.00", "1.234", "abc", "NaN", "Infinity", 1.5, True, "", None,
                                 "1e30", "1_000", " 100 ", "\u0661\u0660\u0660", "0x10"])
def test_money_refuses_bad_amounts(raw):
    with pytest.raises(InvalidValue) as info:
        money(raw, field="credits")
    assert "credits" in info.value.fields


def test_money_zero_and_negative_when_allowed():
    assert money("0", allow_zero=True) == Decimal("0.00")
    assert money("-1500.00", allow_negative=True) == Decimal("-1500.00")


def test_rate_is_a_fraction_between_zero_and_one():
    assert rate("0.3744") == Decimal("0.3744")
    for bad in ["1.5", "-0.1", "x", 0.5]:
        with pytest.raises(InvalidValue):
            rate(bad)


def test_rate_of_the_2023_grant():
    # 003: 7 000 € on an eligible cost of 18 695 € is "37.44 %".
    assert rate_of(Decimal("7000.00"), Decimal("18695.00")) == Decimal("0.3744")


def test_share_rounds_half_up_to_the_cent():
    assert share_of(Decimal("0.5"), Decimal("0.05")) == Decimal("0.03")
    assert share_of(Decimal("0.70"), Decimal("9380.00")) == Decimal("6566.00")


@pytest.mark.parametrize(("rule", "amount", "expected"), [
    (Rounding.CENT, Decimal("1234.565"), Decimal("1234.57")),
    (Rounding.EURO, Decimal("1234.50"), Decimal("1235.00")),
    (Rounding.EURO, Decimal("1234.49"), Decimal("1234.00")),
    (Rounding.TEN_EUROS, Decimal("1234.99"), Decimal("1230.00")),
    (Rounding.TEN_EUROS, Decimal("1235.00"), Decimal("1240.00")),
])
def test_rounding_rules(rule, amount, expected):
    assert rule.apply(amount) == expected
    assert rule.is_rounded(expected)


def test_siret_luhn():
    assert siret("732 829 320 00074") == "73282932000074"
    with pytest.raises(InvalidValue, match="Luhn"):
        siret("73282932000075")
    with pytest.raises(InvalidValue, match="14 chiffres"):
        siret("7328293200007")


def test_iban_check_digits():
    assert iban("fr76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"
    with pytest.raises(InvalidValue, match="clé"):
        iban("FR7630006000011234567890188")
    with pytest.raises(InvalidValue):
        iban("not an iban")


def test_ids_without_a_natural_key_are_uuid7_and_sort_by_creation():
    import time

    from domain.ids import time_ordered_id

    first = [time_ordered_id() for _ in range(50)]
    time.sleep(0.002)
    later = time_ordered_id()
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in [*first, later])
    assert len(set(first)) == 50
    assert all(i.hex < later.hex and i.bytes < later.bytes for i in first)
    assert abs((later.int >> 80) - time.time_ns() // 1_000_000) < 5_000  # its first 48 bits: now, in ms
