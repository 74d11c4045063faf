"""End to end in headless Chromium: a sales person signs in, filters, searches by phone, sets a status;
a superuser's screens, the partner guide and the API reference work; and no page breaks its
Content-Security-Policy (Chromium logs every violation to the console, which the tests read)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.request

import pytest
from django.contrib.auth.models import Group, User

from leads.models import Lead
from leads.partners import CARDEKHO

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser(settings):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("CI_REQUIRE_SERVICES"):
            pytest.fail("CI must run the browser test: install Debian's chromium and chromium-driver")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    # The live server speaks plain HTTP; production's secure-only cookies would never be sent back.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    profile = tempfile.mkdtemp(prefix="chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def post_to_webhook(live_server, key: str, payload: dict) -> int:
    """POST a lead to the live server's CarDekho webhook, as the partner does; the response's status."""
    request = urllib.request.Request(  # noqa: S310 - our own live server
        f"{live_server.url}{CARDEKHO.path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key, "X-Forwarded-Proto": "https"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own live server
        return response.status


def wait_for_live_polling(browser) -> None:
    """Until the open page's live script (leads/static/leads/live.js) has had its first answer: from then on a lead
    that arrives reaches the page by the polling alone. ``window.sameDocument`` is gone if the page reloads."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.sameDocument = true")
    WebDriverWait(browser, 10, poll_frequency=0.1).until(
        lambda driver: driver.execute_script(
            "const live = document.querySelector('script[data-live-url]').dataset.liveUrl;"
            "return performance.getEntriesByType('resource').some(entry => new URL(entry.name).pathname === live);"
        )
    )


def click_link(browser, text: str) -> None:
    """Click the link reading ``text``, found again if the live list or board swapped it out meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda driver: driver.find_element(By.PARTIAL_LINK_TEXT, text).click() or True
    )


def csp_violations(driver) -> list[str]:
    """Console lines about the Content-Security-Policy since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def sign_in(browser, live_server, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # Let the sign-in land before navigating, or the next page load can cancel it.
    WebDriverWait(browser, 15).until(lambda driver: "/login/" not in driver.current_url)


def test_sales_person_filters_searches_opens_a_lead_and_sets_its_status(browser, live_server, roles, make_lead):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    user = User.objects.create_user("sam", password="a-decent-password", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    # Their own open leads: a salesperson lands on "My open leads".
    wanted = make_lead(
        name="Sunita Rao", platform="CarWale", phone_number="+91 98765 43210", car_model="MG Hector", assignee=user
    )
    make_lead(name="Ravi Kumar", platform="CarDekho", phone_number="9123456780", assignee=user)
    make_lead(name="Other CarWale", platform="CarWale", phone_number="9000000001", assignee=user)

    sign_in(browser, live_server, "sam", "a-decent-password")
    browser.get(f"{live_server.url}/admin/leads/lead/")
    browser.find_element(By.LINK_TEXT, "CarWale").click()
    WebDriverWait(browser, 15).until(lambda driver: "platform__exact=CarWale" in driver.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 2
    search = browser.find_element(By.ID, "searchbar")
    search.send_keys("98765 43210")
    search.submit()
    WebDriverWait(browser, 15).until(lambda driver: "q=98765" in driver.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "Sunita Rao" in rows[0].text
    rows[0].find_element(By.LINK_TEXT, "Sunita Rao").click()
    WebDriverWait(browser, 15).until(lambda driver: "/change/" in driver.current_url)
    Select(browser.find_element(By.ID, "id_status")).select_by_visible_text("Test drive booked")
    browser.find_element(By.NAME, "_save").click()

    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    wanted.refresh_from_db()
    assert wanted.status == Lead.Status.TEST_DRIVE_BOOKED
    assert csp_violations(browser) == []


def test_a_superusers_screens_work_under_the_content_security_policy(browser, live_server, make_lead):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("boss", "boss@raamgroup.in", "a-decent-password")
    make_lead(name="Sunita Rao")
    sign_in(browser, live_server, "boss", "a-decent-password")
    for path in (
        "/admin/",
        "/admin/leads/lead/",
        "/admin/leads/delivery/",
        "/admin/leads/apikey/",
        "/admin/two-factor/",
    ):
        browser.get(f"{live_server.url}{path}")
        assert browser.find_element(By.ID, "content").is_displayed()

    browser.get(f"{live_server.url}/admin/")
    chart = browser.find_element(By.ID, "leads-chart")
    # The chart's spacing comes from the nonce'd <style>, so it applied.
    assert chart.value_of_css_property("margin-bottom") == "20px"
    assert csp_violations(browser) == []


def test_the_partner_guide_and_the_api_reference_work_under_the_content_security_policy(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server.url}/docs/integration/")
    assert browser.find_element(By.TAG_NAME, "h1").value_of_css_property("border-bottom-style") == "solid"
    browser.get(f"{live_server.url}/api/docs/")
    WebDriverWait(browser, 20).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock-summary")[0].click()
    WebDriverWait(browser, 10).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock-body"))

    assert "Raam Group MG digital leads webhooks" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info").text
    assert csp_violations(browser) == []


PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}


def assert_on_screen(browser, element, what: str, *, width: int = PHONE["width"]) -> None:
    """Shown, and inside a screen ``width`` pixels wide (the phone's by default): no sideways scrolling to reach it."""
    assert element.is_displayed(), what
    box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right];", element)
    assert box[0] >= 0 and box[1] <= width, (what, box)


def test_a_sales_person_works_the_list_and_a_lead_on_a_390_pixel_phone(browser, live_server, roles, make_lead):
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    user = User.objects.create_user("sam", password="a-decent-password", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    lead = make_lead(
        name="Sunita Venkataraman Subramaniam",
        phone_number="+91 98765 43210",
        car_model="MG Windsor EV Essence Pro",
        campaign="Festive Offers Q4 " * 8,
        lead_url="https://www.cardekho.com/leads/" + "a" * 200,
        status=Lead.Status.CONTACTED,
        assignee=user,
    )

    sign_in(browser, live_server, "sam", "a-decent-password")
    browser.get(f"{live_server.url}/admin/leads/lead/")

    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
    row = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr")
    assert_on_screen(browser, row.find_element(By.LINK_TEXT, "Sunita Venkataraman Subramaniam"), "name")
    assert_on_screen(browser, row.find_element(By.CSS_SELECTOR, "a[href='tel:+919876543210']"), "phone link")
    assert_on_screen(browser, row.find_element(By.CSS_SELECTOR, ".field-car_model"), "car model")
    assert_on_screen(browser, row.find_element(By.CSS_SELECTOR, ".field-status"), "status")
    for age in row.find_elements(By.CSS_SELECTOR, "[class*='field-age']"):  # once the list shows each lead's age
        assert_on_screen(browser, age, "age")

    browser.get(f"{live_server.url}/admin/leads/lead/{lead.pk}/change/")

    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
    assert_on_screen(browser, browser.find_element(By.ID, "id_status"), "status")
    assert_on_screen(browser, browser.find_element(By.CSS_SELECTOR, "a[href='tel:+919876543210']"), "phone link")
    assert_on_screen(browser, browser.find_element(By.CSS_SELECTOR, ".field-name .readonly"), "name")
    assert_on_screen(browser, browser.find_element(By.CSS_SELECTOR, ".field-car_model .readonly"), "car model")
    assert csp_violations(browser) == []


def test_on_a_1366_pixel_laptop_the_lead_list_shows_every_column_without_scrolling_sideways(
    browser, live_server, roles, make_lead
):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1366, 900)
    user = User.objects.create_user("sam", password="a-decent-password", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    for n in range(3):
        make_lead(
            name=f"Sunita Raghavendra Rao {n}",
            phone_number=f"+91 98765 4321{n}",
            car_model="MG Hector Plus Savvy Pro CVT",
            campaign="Diwali Festive Offer 2026 North",
            assignee=user,
        )

    sign_in(browser, live_server, "sam", "a-decent-password")
    browser.get(f"{live_server.url}/admin/leads/lead/")

    results = browser.find_element(By.CSS_SELECTOR, ".results")
    assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", results)
    for column in ("status", "assignee", "same_phone"):
        header = browser.find_element(By.CSS_SELECTOR, f"#result_list thead th.column-{column}")
        assert_on_screen(browser, header, column, width=1366)


def test_a_salespersons_day_on_a_390_pixel_phone(browser, live_server, roles, cardekho_key, tmp_path):
    """Issue 23's salesperson's journey: sign in; a lead posted to the webhook appears on the open list without a
    reload; call it, outcome "no answer", follow-up tomorrow; add a note; find it in tomorrow's list.
    The actions sit in the first screen, and every tap target on the way is 44 px or more."""
    from datetime import timedelta

    from django.utils import timezone
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    user = User.objects.create_user("sam", "sam@raamgroup.in", "a-decent-password", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))

    sign_in(browser, live_server, "sam", "a-decent-password")
    browser.get(f"{live_server.url}/admin/leads/lead/")
    selected = browser.find_elements(By.CSS_SELECTOR, "#changelist-filter .selected")
    assert "To work today" in [e.get_attribute("textContent").strip() for e in selected]
    filters = browser.find_element(By.ID, "changelist-filter")
    results = browser.find_element(By.ID, "live-results")
    assert filters.location["y"] < results.location["y"], "the filters sit above the list"
    assert browser.execute_script("return document.querySelectorAll('#result_list tbody tr').length") == 0

    # A buyer enquires on CarDekho while the list is open: the only salesperson on duty gets the lead.
    wait_for_live_polling(browser)
    buyer = {"name": "राजेश शर्मा", "phone_number": "9876543210", "car_model": "MG Hector"}
    assert post_to_webhook(live_server, cardekho_key.secret, buyer) == 201
    WebDriverWait(browser, 10, poll_frequency=0.1).until(
        lambda driver: "राजेश शर्मा" in driver.find_element(By.ID, "live-results").text
    )
    assert browser.execute_script("return window.sameDocument") is True, "the list reloaded"
    assert "राजेश शर्मा" in browser.find_element(By.ID, "live-status").text  # announced as the user's new lead
    lead = Lead.objects.get(name="राजेश शर्मा")
    assert lead.assignee == user
    if os.environ.get("SCREENSHOT_DIR"):
        browser.save_screenshot(os.path.join(os.environ["SCREENSHOT_DIR"], "list-390-first.png"))
    browser.save_screenshot(str(tmp_path / "list-390.png"))
    click_link(browser, "राजेश")
    WebDriverWait(browser, 15).until(lambda driver: "/change/" in driver.current_url)
    browser.save_screenshot(str(tmp_path / "lead-390.png"))

    first_screen = PHONE["height"]
    for selector, what in (
        ("a.call-link", "Call"),
        ("a.whatsapp-link", "WhatsApp"),
        ("#id_call_outcome", "outcome"),
        ("#id_next_follow_up_at_0", "next follow-up"),
        ("input[name=_save]", "Save"),
    ):
        element = browser.find_element(By.CSS_SELECTOR, selector)
        assert_on_screen(browser, element, what)
        box = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.bottom, r.height];", element
        )
        assert box[0] <= first_screen, (what, "below the first screen", box)
        if what in ("Call", "WhatsApp", "Save"):
            assert box[1] >= 44, (what, "tap target", box)

    Select(browser.find_element(By.ID, "id_call_outcome")).select_by_value("no_answer")
    tomorrow = timezone.localtime() + timedelta(days=1)
    day, time = (
        browser.find_element(By.ID, "id_next_follow_up_at_0"),
        browser.find_element(By.ID, "id_next_follow_up_at_1"),
    )
    day.clear()
    day.send_keys(tomorrow.strftime("%Y-%m-%d"))
    time.clear()
    time.send_keys("11:00")
    browser.find_element(By.ID, "id_new_note").send_keys("No answer; try at 11")
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".messagelist"))
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text

    # Tomorrow's due list, reached as she would: its filter on the list.
    due_tomorrow = browser.find_element(By.CSS_SELECTOR, "#changelist-filter a[href*='follow_up=tomorrow']")
    due_tomorrow.find_element(By.XPATH, "./ancestor::details/summary").click()  # a phone folds each filter
    due_tomorrow.click()
    WebDriverWait(browser, 15).until(lambda driver: "follow_up=tomorrow" in driver.current_url)
    assert "राजेश शर्मा" in browser.find_element(By.ID, "result_list").text
    lead.refresh_from_db()
    assert list(lead.call_attempts.values_list("outcome", flat=True)) == ["no_answer"]
    assert lead.lead_notes.get().text == "No answer; try at 11"
    assert csp_violations(browser) == []
    shots = os.environ.get("SCREENSHOT_DIR")
    if shots:
        browser.get(f"{live_server.url}/admin/leads/lead/{lead.pk}/change/")
        browser.save_screenshot(os.path.join(shots, "lead-390.png"))
        browser.get(f"{live_server.url}/admin/leads/lead/")
        browser.save_screenshot(os.path.join(shots, "list-390.png"))
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        browser.set_window_size(1366, 900)
        browser.get(f"{live_server.url}/admin/leads/lead/{lead.pk}/change/")
        browser.save_screenshot(os.path.join(shots, "lead-1366.png"))
        browser.get(f"{live_server.url}/admin/leads/lead/")
        browser.save_screenshot(os.path.join(shots, "list-1366.png"))


def test_a_note_typed_when_the_session_expired_is_back_after_signing_in_again(browser, live_server, roles, make_lead):
    """Issue 23 item 1: the session ends while a salesperson types; Save sends her to sign in, and the lead page
    she comes back to holds her note, unsaved, saying so."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    user = User.objects.create_user("sam", password="a-decent-password", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    lead = make_lead(name="Sunita Rao", assignee=user)
    sign_in(browser, live_server, "sam", "a-decent-password")
    browser.get(f"{live_server.url}/admin/leads/lead/{lead.pk}/change/")
    browser.find_element(By.ID, "id_new_note").send_keys("Wants the white one, call after 6")

    browser.delete_cookie("sessionid")  # the session ends
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(lambda driver: "/login/" in driver.current_url)
    browser.find_element(By.NAME, "username").send_keys("sam")
    browser.find_element(By.NAME, "password").send_keys("a-decent-password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda driver: "/change/" in driver.current_url)

    note = browser.find_element(By.ID, "id_new_note")
    assert note.get_attribute("value") == "Wants the white one, call after 6"
    assert "not saved yet" in browser.find_element(By.CSS_SELECTOR, ".draft-restored").text
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, ".messagelist"))
    assert lead.lead_notes.get().text == "Wants the white one, call after 6"
    assert csp_violations(browser) == []
