"""In headless Chromium at 390 px, issue 23's manager's journey: the team board (counted live), a reassignment
that clears Overdue, and the managers' report with every figure on screen (no hidden columns). The salesperson's
journey, a live lead included, is tests/test_admin_browser.py's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from leads.models import LeadEvent
from tests.test_admin_browser import (
    PHONE,
    assert_on_screen,
    click_link,
    csp_violations,
    sign_in,
    wait_for_live_polling,
)

# The Chromium fixture (``browser``) comes from the lead list's browser tests.
pytest_plugins = ["tests.test_admin_browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def board_figure(browser, who: str, label: str) -> str | None:
    """One figure of the team board's row for ``who`` (the row's heading, e.g. "Asha Iyer (asha)"), read in one
    script: the live board swaps its rows, which would leave an element found a moment before stale."""
    return browser.execute_script(
        "const [who, label] = arguments;"
        "const row = [...document.querySelectorAll('#team-board tr.board-row')]"
        "  .find(row => row.querySelector('th').textContent.trim() === who);"
        "return row ? row.querySelector(`td[data-label='${label}']`).textContent.trim() : null;",
        who,
        label,
    )


def test_a_managers_journey_on_a_390_pixel_phone(browser, live_server, roles, make_lead):
    """Issue 23's manager's journey: the team board (a lead arriving is counted without a reload), an overdue lead
    found from the board and handed to a colleague on its page, which clears Overdue, and the report readable."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    manager = User.objects.create_user("meera", password="a-decent-password", is_staff=True)
    manager.groups.add(Group.objects.get(name="Sales managers"))
    sam = User.objects.create_user("sam", first_name="Samarth", last_name="Venkataraman", is_staff=True)
    asha = User.objects.create_user("asha", first_name="Asha", last_name="Iyer", is_staff=True)
    for person in (sam, asha):
        person.groups.add(Group.objects.get(name="Sales"))
    late = make_lead(
        name="Late Buyer",
        phone_number="9123456780",
        assignee=sam,
        received_at=timezone.now() - timedelta(days=3),
        campaign="Festive Offers Q4 North",
    )
    make_lead(assignee=sam)
    SAM, ASHA = "Samarth Venkataraman (sam)", "Asha Iyer (asha)"

    sign_in(browser, live_server, "meera", "a-decent-password")
    browser.get(f"{live_server.url}/admin/board/")
    assert SAM in browser.find_element(By.ID, "team-board").text
    for card in browser.find_elements(By.CSS_SELECTOR, "#team-board tr.board-row"):
        for label in ("Duty", "Open", "Due", "Overdue", "Untouched"):
            cell = card.find_element(By.CSS_SELECTOR, f'td[data-label="{label}"]')
            assert_on_screen(browser, cell, label)
    assert browser.execute_script("return document.documentElement.scrollWidth <= 390")
    assert (board_figure(browser, SAM, "Open"), board_figure(browser, SAM, "Overdue")) == ("2", "1")
    # A lead that arrives meanwhile is counted on the open board without a reload.
    wait_for_live_polling(browser)
    LeadEvent.objects.create(lead=make_lead(assignee=sam, phone_number="9000000001"), kind=LeadEvent.Kind.ASSIGNED)
    WebDriverWait(browser, 10, poll_frequency=0.1).until(lambda driver: board_figure(driver, SAM, "Open") == "3")
    assert browser.execute_script("return window.sameDocument") is True, "the board reloaded"

    # Sam's overdue figure opens his overdue leads; the manager hands the late one to Asha on its page.
    browser.find_element(By.XPATH, f"//tr[@class='board-row'][th='{SAM}']/td[@data-label='Overdue']/a").click()
    WebDriverWait(browser, 15).until(lambda driver: "sla=overdue" in driver.current_url)
    overdue_list = browser.current_url
    listed = browser.execute_script(  # in one script: the live list may swap its rows in meanwhile
        "return [...document.querySelectorAll('#result_list tbody tr')]"
        "  .map(row => [row.innerText, row.querySelector('.overdue-badge') !== null]);"
    )
    assert len(listed) == 1 and "Late Buyer" in listed[0][0] and listed[0][1], listed
    click_link(browser, "Late Buyer")
    WebDriverWait(browser, 15).until(lambda driver: "/change/" in driver.current_url)
    assignee = Select(browser.find_element(By.ID, "id_assignee"))
    assert "asha · on duty · 0 open" in [option.text for option in assignee.options]
    assignee.select_by_value(str(asha.pk))
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".messagelist"))
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    late.refresh_from_db()
    assert late.assignee == asha

    browser.get(f"{live_server.url}/admin/board/")
    assert (board_figure(browser, SAM, "Overdue"), board_figure(browser, ASHA, "Overdue")) == ("0", "0")
    assert (board_figure(browser, SAM, "Open"), board_figure(browser, ASHA, "Open")) == ("2", "1")
    browser.get(overdue_list)
    assert "Late Buyer" not in browser.find_element(By.ID, "changelist").text
    browser.get(f"{live_server.url}/admin/leads/lead/?mine=all&sla=overdue")
    assert "Late Buyer" not in browser.find_element(By.ID, "changelist").text

    # The managers' report as cards: every column of every row on screen, each figure with its column's name.
    browser.get(f"{live_server.url}/admin/reports/leads/")
    assert browser.execute_script("return document.documentElement.scrollWidth <= 390")
    tables = browser.find_elements(By.CSS_SELECTOR, ".report-table table")
    assert tables, "the report shows no table"
    for table in tables:
        assert_every_column_reads_on_a_phone(browser, table)
    browser.get(f"{live_server.url}/admin/reports/partners/")
    assert browser.execute_script("return document.documentElement.scrollWidth <= 390")
    assert_every_column_reads_on_a_phone(browser, browser.find_element(By.CSS_SELECTOR, "#reconciliation table"))
    assert csp_violations(browser) == []


def assert_every_column_reads_on_a_phone(browser, table) -> None:
    """Each body row of ``table`` shows a cell for every column of its head, inside the phone's width, and names
    the column beside the figure (the hidden head's title, drawn by CSS from the cell's data-label)."""
    from selenium.webdriver.common.by import By

    columns = [th.get_attribute("textContent").strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    # Not the total's row (its heading spans the grouping columns) nor "No leads in this range."
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr:not(.report-total):not(:has(td[colspan]))")
    assert columns and rows, "a table with no rows reads nothing"
    for row in rows:
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        assert [cell.get_attribute("data-label") for cell in cells] == columns
        for cell in cells:
            label = cell.get_attribute("data-label")
            assert_on_screen(browser, cell, label)
            shown = browser.execute_script("return getComputedStyle(arguments[0], '::before').content", cell)
            assert shown == f'"{label}"', (label, shown)
