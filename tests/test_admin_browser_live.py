"""In headless Chromium at 390 px, issue 23's manager's journey: the team board (counted live), a reassignment
that clears Overdue, and the managers' report with every figure on screen (no hidden columns). The salesperson's
journey, a live lead included, is tests/test_admin_browser.py's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from leads.models import LeadEvent
from tests.test_admin_browser import PHONE, assert_on_screen, csp_violations, sign_in

# The Chromium fixture (``browser``) comes from the lead list's browser tests.
pytest_plugins = ["tests.test_admin_browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_manager_reads_the_team_board_and_the_report_on_a_390_pixel_phone(browser, live_server, roles, make_lead):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    manager = User.objects.create_user("meera", password="a-decent-password", is_staff=True)
    manager.groups.add(Group.objects.get(name="Sales managers"))
    sam = User.objects.create_user("sam", first_name="Samarth", last_name="Venkataraman", is_staff=True)
    sam.groups.add(Group.objects.get(name="Sales"))
    make_lead(assignee=sam, received_at=timezone.now() - timedelta(days=3), campaign="Festive Offers Q4 North")
    make_lead(assignee=sam)

    sign_in(browser, live_server, "meera", "a-decent-password")
    browser.get(f"{live_server.url}/admin/board/")
    card = browser.find_element(By.CSS_SELECTOR, "#team-board tr.board-row")
    assert "Samarth Venkataraman (sam)" in card.text
    for label in ("Duty", "Open", "Due", "Overdue", "Untouched"):
        cell = card.find_element(By.CSS_SELECTOR, f'td[data-label="{label}"]')
        assert_on_screen(browser, cell, label)
    assert browser.execute_script("return document.documentElement.scrollWidth <= 390")
    # A lead that arrives meanwhile is counted on the open board without a reload.
    WebDriverWait(browser, 5).until(lambda driver: driver.execute_script("return performance.now() > 1500"))
    LeadEvent.objects.create(lead=make_lead(assignee=sam), kind=LeadEvent.Kind.ASSIGNED)
    WebDriverWait(browser, 10, poll_frequency=0.1).until(
        lambda driver: (
            driver.find_element(By.CSS_SELECTOR, '#team-board tr.board-row td[data-label="Open"]').text == "3"
        )
    )

    browser.get(f"{live_server.url}/admin/reports/leads/")
    for row in browser.find_elements(By.CSS_SELECTOR, ".report-table tbody tr")[:2]:
        for cell in row.find_elements(By.CSS_SELECTOR, "td"):
            assert_on_screen(browser, cell, cell.get_attribute("data-label"))
    assert browser.execute_script("return document.documentElement.scrollWidth <= 390")
    browser.get(f"{live_server.url}/admin/reports/partners/")
    for cell in browser.find_elements(By.CSS_SELECTOR, "#reconciliation td"):
        assert_on_screen(browser, cell, cell.get_attribute("data-label"))
    assert csp_violations(browser) == []
