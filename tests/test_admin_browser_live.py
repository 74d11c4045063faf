"""In headless Chromium at 390 px: a lead posted to the webhook appears on an open lead list without a reload, and
a manager reads the team board and the managers' report with every figure on screen (no hidden columns)."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from leads.models import LeadEvent
from leads.partners import CARDEKHO
from tests.test_admin_browser import PHONE, assert_on_screen, csp_violations, sign_in

# The Chromium fixture (``browser``) comes from the lead list's browser tests.
pytest_plugins = ["tests.test_admin_browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def post_to_webhook(live_server, key: str, payload: dict) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own live server
        f"{live_server.url}{CARDEKHO.path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key, "X-Forwarded-Proto": "https"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own live server
        return response.status


def test_a_lead_posted_to_the_webhook_appears_on_the_open_list_without_a_reload(
    browser,
    live_server,
    roles,
    cardekho_key,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    user = User.objects.create_user("sam", "sam@raamgroup.in", "a-decent-password", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    sign_in(browser, live_server, "sam", "a-decent-password")
    browser.get(f"{live_server.url}/admin/leads/lead/")
    browser.execute_script("window.sameDocument = true")  # gone if the page reloads
    WebDriverWait(browser, 5).until(lambda driver: driver.execute_script("return performance.now() > 1500"))

    lead = {"name": "Sunita Rao", "phone_number": "9876543210"}
    assert post_to_webhook(live_server, cardekho_key.secret, lead) == 201

    WebDriverWait(browser, 10, poll_frequency=0.1).until(
        lambda driver: "Sunita Rao" in driver.find_element(By.ID, "live-results").text
    )
    assert browser.execute_script("return window.sameDocument") is True
    assert "Sunita Rao" in browser.find_element(By.ID, "live-status").text  # announced as the user's new lead
    violations = csp_violations(browser)
    assert violations == [], violations


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
