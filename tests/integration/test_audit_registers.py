"""The registers as CSV files for a French Excel (issue 6), parsed back: acts, refunds, payments of a line.

UTF-8 with BOM, `;`, CRLF, amounts `4690,00`, dates `15/10/2025`, `oui`/`non`; a cell starting like a
formula is neutralised with a leading `'`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.integration.audit_story import grant_2023_with_refund, grant_2025_paid_twice
from tests.integration.test_api_deliberations import Acts


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


def download(acts: Acts, url: str, who: dict[str, str], **query: str) -> tuple[list[str], list[dict[str, str]], Any]:
    """GET a CSV register → (header, rows as dicts, response), checking the format on the way."""
    response = acts.call("GET", url, who, 200, query_string=query)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"].startswith("text/csv; charset=utf-8")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    assert response.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    text = response.data.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header, body = lines[0], lines[1:]
    assert all(len(row) == len(header) for row in body)
    return header, [dict(zip(header, row, strict=True)) for row in body], response


def test_the_payments_of_a_budget_line_as_json_and_csv_filtered_by_dates(acts):
    story = grant_2025_paid_twice(acts)
    grant = story.grant
    url = f"/budget-lines/{grant.line}/payments"
    items = acts.call("GET", url, acts.auditor, 200).json["items"]
    assert [(p["id"], p["tranche"], p["amount"], p["ordered_on"], p["paid_on"], p["dossier_reference"])
            for p in items] == [
        (story.advance["id"], "advance", "4690.00", "2025-10-15", "2025-10-15", "2025-00001"),
        (story.balance["id"], "balance", "4690.00", "2026-03-10", "2026-03-10", "2025-00001")]
    assert items == acts.call("GET", "/payments", acts.auditor, 200,
                              query_string={"budget_line_id": grant.line}).json["items"]
    only_2025 = acts.call("GET", url, acts.finance, 200, query_string={"to": "2025-12-31"}).json["items"]
    assert [p["tranche"] for p in only_2025] == ["advance"]

    header, rows, response = download(acts, f"{url}.csv", acts.finance)
    assert header[:8] == ["Ordonnancé le", "Dossier", "Tranche", "Montant (€)", "Statut", "Payé le",
                          "Référence bancaire", "Dépenses justifiées (€)"]
    assert [(r["Ordonnancé le"], r["Dossier"], r["Tranche"], r["Montant (€)"], r["Statut"], r["Payé le"],
             r["Référence bancaire"], r["Identifiant du paiement"]) for r in rows] == [
        ("15/10/2025", "2025-00001", "avance", "4690,00", "payé", "15/10/2025", "VIR-2025-10-15", story.advance["id"]),
        ("10/03/2026", "2025-00001", "solde", "4690,00", "payé", "10/03/2026", "VIR-2026-03-10", story.balance["id"])]
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="paiements-C05-043A06-2025-complet.csv"'
    _, in_2026, response = download(acts, f"{url}.csv", acts.auditor, **{"from": "2026-01-01", "to": "2026-12-31"})
    assert [r["Tranche"] for r in in_2026] == ["solde"]
    assert response.headers["Content-Disposition"].endswith('-2026-01-01_2026-12-31.csv"')
    # A French spreadsheet sums the amounts back to the grant.
    assert sum(float(r["Montant (€)"].replace(",", ".")) for r in rows) == 9380.0

    acts.call("GET", "/budget-lines/00000000-0000-4000-8000-000000000000/payments.csv", acts.auditor, 404)
    acts.call("GET", f"{url}.csv", acts.auditor, 422, query_string={"from": "2026-01-01", "to": "2025-01-01"})
    acts.call("GET", f"{url}.csv", acts.owner(acts.lianes()), 403)


def test_the_register_of_acts_as_csv(acts):
    grant_2023_with_refund(acts)
    grant_2025_paid_twice(acts)
    header, rows, response = download(acts, "/legality/register.csv", acts.instructor)
    assert response.headers["Content-Disposition"] == 'attachment; filename="registre-des-actes-complet.csv"'
    assert header[:5] == ["N° délibération", "Objet", "Séance", "Statut", "Nombre de dossiers"]
    assert [r["N° délibération"] for r in rows] == ["2023-388", "2025-344"]
    act = rows[1]
    assert {k: act[k] for k in ("Séance", "Statut", "Montant total (€)", "Signée le", "Identifiant @ctes",
                                "Accusé de réception le", "Publiée le", "Mode de publication", "Exécutoire le",
                                "Fin du délai de déféré", "Déférée")} == {
        "Séance": "15/09/2025", "Statut": "adoptée", "Montant total (€)": "9380,00", "Signée le": "15/09/2025",
        "Identifiant @ctes": "062-226200012-20250915-lmc1-DE-1-1", "Accusé de réception le": "01/10/2025",
        "Publiée le": "01/10/2025", "Mode de publication": "électronique", "Exécutoire le": "01/10/2025",
        "Fin du délai de déféré": "02/12/2025", "Déférée": "non"}
    assert act["En attente"] == ""  # the referral window closed on 2 December 2025
    # The same rows as the JSON register, filtered the same way.
    _, in_2025, _ = download(acts, "/legality/register.csv", acts.auditor, **{"from": "2025-01-01"})
    assert [r["N° délibération"] for r in in_2025] == ["2025-344"]
    json_items = acts.call("GET", "/legality/register", acts.auditor, 200,
                           query_string={"from": "2025-01-01"}).json["items"]
    assert [i["id"] for i in json_items] == [r["Identifiant"] for r in in_2025]
    acts.call("GET", "/legality/register.csv", acts.owner(acts.lianes()), 403)
    acts.call("GET", "/legality/register.csv", None, 401)


def test_a_pending_act_and_a_title_written_like_a_formula(acts):
    line = acts.line_of(acts.today.year, "5000.00")
    programme = acts.programme_of(acts.today.year, line, {"rounding": "cent", "settlement": "reduce",
                                                          "convention_required_above": "0.00"}, code="AAP-FORMULE")
    dossier = acts.instructed(programme, acts.lianes(), amount="1000.00", eligible="1000.00",
                              submitted_on=acts.today.isoformat(), instructed_on=acts.today.isoformat())
    acts.deliberation("2099-001", acts.today.isoformat(), [acts.item(dossier, "1000.00", line)],
                      title='=HYPERLINK("http://example.org";"cliquez")')
    _, rows, _ = download(acts, "/legality/register.csv", acts.auditor)
    assert [(r["N° délibération"], r["Objet"], r["Statut"], r["En attente"], r["Identifiant @ctes"]) for r in rows] == [
        ("2099-001", '\'=HYPERLINK("http://example.org";"cliquez")', "projet", "vote", "")]


def test_the_refund_register_as_csv(acts):
    grant, refund = grant_2023_with_refund(acts)
    header, rows, response = download(acts, "/refunds.csv", acts.auditor)
    assert response.headers["Content-Disposition"] == 'attachment; filename="registre-des-reversements-tous.csv"'
    assert header[:4] == ["N° de titre", "Dossier", "Montant du titre (€)", "Émis le"]
    assert [{k: r[k] for k in ("N° de titre", "Dossier", "Montant du titre (€)", "Émis le",
                               "Reçu par le bénéficiaire le", "Échéance", "Encaissé (€)", "Reste dû (€)",
                               "Dernier encaissement le", "Statut", "En retard", "Identifiant du dossier")}
            for r in rows] == [{
        "N° de titre": "TITRE-2024-0001", "Dossier": "2023-00001", "Montant du titre (€)": "2552,30",
        "Émis le": "02/05/2024", "Reçu par le bénéficiaire le": "06/05/2024", "Échéance": "06/06/2024",
        "Encaissé (€)": "1000,00", "Reste dû (€)": "1552,30", "Dernier encaissement le": "20/05/2024",
        "Statut": "en cours", "En retard": "oui", "Identifiant du dossier": grant.dossier}]
    assert rows[0]["Identifiant du titre"] == refund["id"]
    _, open_rows, _ = download(acts, "/refunds.csv", acts.finance, status="open")
    assert open_rows == rows
    _, closed_rows, response = download(acts, "/refunds.csv", acts.finance, status="closed")
    assert closed_rows == []
    assert response.headers["Content-Disposition"].endswith('reversements-closed.csv"')
    acts.call("GET", "/refunds.csv", acts.instructor, 403)
    acts.call("GET", "/refunds.csv", acts.auditor, 422, query_string={"status": "paid"})


def test_the_csv_registers_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json["paths"]
    for path in ("/legality/register.csv", "/refunds.csv", "/budget-lines/{budget_line_id}/payments.csv"):
        assert "text/csv" in paths[path]["get"]["responses"]["200"]["content"], path
    assert "/budget-lines/{budget_line_id}/payments" in paths
