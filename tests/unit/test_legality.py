"""Rules 10 and 11: act ids, executory date, the prefect's two-month délai franc."""

from datetime import date

import pytest

from domain.errors import RuleViolation
from domain.legality import Authority, add_months, check_act_id, executory_on, referral_deadline

PAS_DE_CALAIS = Authority(department_code="062", siren="226200012")


def test_the_act_id_printed_on_seed_002_matches_its_deliberation():
    # 002 L3: deliberation 2025-344 of 15 September 2025.
    check_act_id("062-226200012-20250915-lmc1526130-DE-1-1", authority=PAS_DE_CALAIS, decided_on=date(2025, 9, 15))
    check_act_id("062-226200012-20250915-lmc1526130-DE", authority=PAS_DE_CALAIS, decided_on=date(2025, 9, 15))


@pytest.mark.parametrize(("act_id", "failed"), [
    ("059-226200012-20250915-lmc1526130-DE-1-1", "department_code"),
    ("062-226200013-20250915-lmc1526130-DE-1-1", "authority_siren"),
    ("062-226200012-20250902-lmc1526130-DE-1-1", "decision_date"),
    ("062-226200012-20250915-lmc1526130-CC-1-1", "nature"),
])
def test_mismatched_act_ids_name_the_failed_check(act_id, failed):
    with pytest.raises(RuleViolation) as info:
        check_act_id(act_id, authority=PAS_DE_CALAIS, decided_on=date(2025, 9, 15))
    assert info.value.code == "invalid_act_id"
    assert [c.check for c in info.value.checks if not c.ok] == [failed]


@pytest.mark.parametrize("act_id", ["", "062-226200012", "not an act id", "62-226200012-20250915-x-DE"])
def test_malformed_act_ids_are_refused(act_id):
    with pytest.raises(RuleViolation) as info:
        check_act_id(act_id, authority=PAS_DE_CALAIS, decided_on=date(2025, 9, 15))
    assert info.value.code == "invalid_act_id"


def test_executory_is_the_later_of_acknowledgment_and_publication():
    assert executory_on(date(2025, 10, 1), date(2025, 9, 20)) == date(2025, 10, 1)
    assert executory_on(date(2022, 4, 4), date(2022, 4, 5)) == date(2022, 4, 5)
    assert executory_on(date(2025, 10, 1), None) is None


def test_referral_deadline_is_a_delai_franc():
    # domain.md rule 11: received 1 October → may be referred until 2 December inclusive.
    assert referral_deadline(date(2025, 10, 1)) == date(2025, 12, 2)
    assert referral_deadline(date(2022, 4, 4)) == date(2022, 6, 5)


def test_months_clamp_at_the_end_of_shorter_months():
    assert add_months(date(2025, 12, 31), 2) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)


def test_the_two_real_conventions_each_contain_one_inconsistency():
    from domain.legality import cross_act_inconsistencies

    # 002: the 2025 convention cites a deliberation "du 2 septembre 2025" voted on 15 September 2025.
    found_2025 = cross_act_inconsistencies(
        {"deliberation_number": "2025-344", "deliberation_date": "2025-09-02", "amount": "9380.00",
         "budget_code": "C05-043A06"},
        number="2025-344", session_on=date(2025, 9, 15), amount="9380.00", budget_code="C05-043A06",
        imputation="65748//93043")
    assert [(f["field"], f["convention"], f["deliberation"]) for f in found_2025] == [
        ("deliberation_date", "2025-09-02", "2025-09-15")]
    # 003: the 2023 convention imputes on C05-048A06 where the deliberation says C05-043A06.
    found_2023 = cross_act_inconsistencies(
        {"deliberation_number": "2023-388", "deliberation_date": "2023-09-18", "amount": "7000.00",
         "budget_code": "C05-048A06"},
        number="2023-388", session_on=date(2023, 9, 18), amount="7000.00", budget_code="C05-043A06",
        imputation="65748//93043")
    assert [(f["field"], f["convention"], f["deliberation"]) for f in found_2023] == [
        ("budget_code", "C05-048A06", "C05-043A06")]
