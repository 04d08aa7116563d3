"""How the registers and pages write values for French readers: CSV cells for Excel, and the pages' filters."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from api import csv_export, html


def test_csv_cells_are_what_a_french_excel_reads_as_numbers_dates_and_text():
    assert csv_export.cell(Decimal("9380"), "money") == "9380,00"
    assert csv_export.cell(Decimal("-2552.3"), "money") == "-2552,30"  # a number, not neutralised as a formula
    assert csv_export.cell("1552.30", "money") == "1552,30"
    assert csv_export.cell(date(2025, 10, 1), "date") == "01/10/2025"
    assert csv_export.cell("2025-12-02", "date") == "02/12/2025"
    assert csv_export.cell(datetime(2025, 10, 1, 8, 30, tzinfo=UTC), "instant") == "01/10/2025 10:30:00"
    assert (csv_export.cell(True, "bool"), csv_export.cell(False, "bool")) == ("oui", "non")
    assert (csv_export.cell(None, "money"), csv_export.cell(None, "date"), csv_export.cell("")) == ("", "", "")
    assert csv_export.cell(["signature", "publication"], "list") == "signature, publication"


def test_text_that_looks_like_a_formula_is_neutralised():
    for formula in ("=1+1", "+33 6 12", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert csv_export.cell(formula) == f"'{formula}"
    assert csv_export.cell(["=cmd"], "list") == "'=cmd"
    assert csv_export.cell("Lianes coopération = partenaire") == "Lianes coopération = partenaire"


def test_a_whole_file_has_a_bom_semicolons_crlf_and_quotes_only_where_needed():
    columns = [csv_export.Column("Objet", "title"), csv_export.Column("Montant (€)", "amount", "money")]
    text = csv_export.to_csv(columns, [{"title": 'Jumelages; "Europe"', "amount": Decimal("7000")}])
    assert text.startswith("\ufeffObjet;Montant (€)\r\n")
    assert text.endswith('"Jumelages; ""Europe""";7000,00\r\n')
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=";"))
    assert rows == [["Objet", "Montant (€)"], ['Jumelages; "Europe"', "7000,00"]]
    assert csv_export.file_name("paiements-C05/043 été") == "paiements-C05-043--t-.csv"
    assert csv_export.period_name(date(2025, 1, 1), None) == "depuis-2025-01-01"


def test_page_filters_write_french_amounts_rates_dates_and_paris_time():
    nbsp = "\u202f"
    assert html.fr_money("9380.00") == f"9{nbsp}380,00{nbsp}€"
    assert html.fr_money(Decimal("-1234567.5")) == f"-1{nbsp}234{nbsp}567,50{nbsp}€"
    assert html.fr_money(None) == ""
    assert html.fr_rate("0.3744") == f"37,44{nbsp}%"
    assert html.fr_date("2025-09-15") == "15/09/2025"
    assert html.fr_instant("2025-07-01T22:30:00+00:00") == "02/07/2025 00:30:00"  # summer time in Paris
    assert html.FILTERS["status_fr"]("convention_signed") == "convention signée"
