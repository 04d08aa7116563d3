"""The web view in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
Selenium) against a real `subventio serve` process loaded with the demo history.

An auditor signs in with a token, finds the 2025 dossier, opens its timeline, moves the "as of" control
and sees the dossier's status change; a screenshot of the page is taken. `make test` installs Chromium when
it is missing; with CI=true a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import IN_CI
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1400")


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must run; `make test` installs Chromium)")
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium with its own profile directory, closed after the test."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        unavailable(f"{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install -y chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[dev]')")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def status_shown(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, "state-status")
    status: str = element.get_attribute("data-status")
    return status


def show_as_of(driver: Any, day: str, mode: str) -> str:
    """Sets the "as of" control (date and basis), submits it like a user, returns the status then shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    field = driver.find_element(By.ID, "as-of-date")
    # A date input is typed in the browser's locale; setting its value is the same input, locale-free.
    driver.execute_script("arguments[0].value = arguments[1];", field, day)
    Select(driver.find_element(By.ID, "as-of-mode")).select_by_value(mode)
    driver.find_element(By.ID, "as-of-submit").click()
    WebDriverWait(driver, 30).until(expected_conditions.url_contains(f"date={day}"))
    return status_shown(driver)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_an_auditor_travels_through_a_dossier_timeline_in_chromium(server: Server, browser: Any, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    server.cli("demo")  # the real history of seeds 001–004, on their real dates
    token = server.cli("token", "create", "--role", "auditor", "--name", "Chambre régionale des comptes").strip()
    wait = WebDriverWait(browser, 30)

    browser.get(f"{server.url}/ui/dossiers")  # not signed in: the sign-in page
    wait.until(expected_conditions.presence_of_element_located((By.ID, "token")))
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "sign-in").click()
    # (the sign-in page's own URL holds "next=/ui/dossiers": wait for the list's form, not for the URL)
    wait.until(expected_conditions.presence_of_element_located((By.NAME, "reference")))
    assert urlsplit(browser.current_url).path == "/ui/dossiers"
    cookie = browser.get_cookie("subventio_token")
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")

    search = browser.find_element(By.NAME, "reference")
    search.send_keys("2025-00001")
    search.submit()
    wait.until(expected_conditions.url_contains("reference=2025-00001"))
    browser.find_element(By.LINK_TEXT, "2025-00001").click()
    wait.until(expected_conditions.title_contains("Dossier 2025-00001"))

    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    assert len(rows) >= 10  # opened, documents, submitted, instructed, scheduled, granted, convention, payment...
    assert "Chambre régionale des comptes" in browser.find_element(By.CSS_SELECTOR, "header.top").text
    now = status_shown(browser)  # convention signed and paid (seed 002), or later if the demo goes further
    assert now not in ("absent", "draft", "submitted", "instructed", "scheduled", "granted")

    # Moving the control back in time (by the dates of the facts) changes the status shown:
    # submitted on 2 June 2025, granted by the vote of 15 September 2025 (seed 002).
    assert show_as_of(browser, "2025-09-20", "effective") == "granted"
    assert show_as_of(browser, "2025-07-01", "effective") == "submitted"
    assert show_as_of(browser, "2025-06-01", "effective") == "absent"
    later = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr.later")
    assert len(later) == len(rows)  # nothing had happened yet: every event is greyed out
    assert show_as_of(browser, "2025-09-20", "effective") == "granted"

    screenshot = tmp_path / "timeline.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 0
    width, height = png_size(screenshot)
    assert width > 0 and height > 0
