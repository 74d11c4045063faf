"""axe-core (from npm: package.json, ``npm ci``) in Chromium: no serious or critical violation on the lead list, the
lead page, the team board and the managers' report (issue 23), at 390 px (a phone) and at 1366 px (a laptop), for a
salesperson and for a manager. The list is checked with a search too, which adds the "(Show all)" link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from leads.reporting.snapshots import preset
from tests.test_admin_browser import PHONE, sign_in

pytest_plugins = ["tests.test_admin_browser"]  # the Chromium fixture, ``browser``
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def axe_source() -> str:
    if not AXE.exists():
        if os.environ.get("CI_REQUIRE_SERVICES"):
            pytest.fail("CI must run the accessibility test: run `npm ci` at the repository's root")
        pytest.skip("needs axe-core: run `npm ci` at the repository's root")
    return AXE.read_text()


def serious_violations(browser, axe_source: str) -> list[str]:
    """axe's serious and critical findings on the current page, one line per rule with its offending nodes.
    WebDriver's scripts are not the page's, so the Content-Security-Policy does not stop axe."""
    browser.execute_script(axe_source)
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));"
    )
    assert isinstance(result, list), result
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes']]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def axe_on(browser, live_server, axe_source: str, paths: list[str]) -> dict[str, list[str]]:
    """Each path's serious violations, at 390 px and then at 1366 px."""
    found = {}
    for width in (PHONE["width"], 1366):
        if width == PHONE["width"]:
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        else:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            browser.set_window_size(1366, 900)
        for path in paths:
            browser.get(f"{live_server.url}{path}")
            found[f"{path} at {width} px"] = serious_violations(browser, axe_source)
    return found


def test_a_managers_screens_have_no_serious_accessibility_violation(browser, live_server, roles, make_lead, axe_source):
    manager = User.objects.create_user("meera", password="a-decent-password", is_staff=True)
    manager.groups.add(Group.objects.get(name="Sales managers"))
    sam = User.objects.create_user("sam", is_staff=True)
    sam.groups.add(Group.objects.get(name="Sales"))
    lead = make_lead(assignee=sam, name="Sunita Rao", car_model="MG Hector")
    make_lead(assignee=sam, name="Ravi Kumar", phone_number="9123456780")
    sign_in(browser, live_server, "meera", "a-decent-password")
    year = preset("Last 365 days", timezone.localdate())

    found = axe_on(
        browser,
        live_server,
        axe_source,
        [
            "/admin/board/",
            "/admin/reports/leads/",
            # A long range: its figures come from a snapshot, and the page says when it was worked out.
            f"/admin/reports/leads/?first={year.first.isoformat()}&last={year.last.isoformat()}",
            "/admin/reports/partners/",
            "/admin/leads/lead/",
            "/admin/leads/lead/?q=sunita",
            f"/admin/leads/lead/{lead.pk}/change/",
        ],
    )

    assert found == {page: [] for page in found}


def test_a_salespersons_screens_have_no_serious_accessibility_violation(
    browser, live_server, roles, make_lead, axe_source
):
    sam = User.objects.create_user("sam", password="a-decent-password", is_staff=True)
    sam.groups.add(Group.objects.get(name="Sales"))
    lead = make_lead(assignee=sam, name="Sunita Rao", car_model="MG Hector")
    make_lead(assignee=sam, name="Ravi Kumar", phone_number="9123456780")
    sign_in(browser, live_server, "sam", "a-decent-password")

    found = axe_on(
        browser,
        live_server,
        axe_source,
        ["/admin/leads/lead/", "/admin/leads/lead/?q=sunita", f"/admin/leads/lead/{lead.pk}/change/"],
    )

    assert found == {page: [] for page in found}
