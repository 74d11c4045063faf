"""The admin's lists take from their query string only what their own filters use, cap their search, and run
under a statement timeout that answers a page, not a 500; the webhooks keep their own lock timeout."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from leads.models import Lead

pytestmark = pytest.mark.django_db
URL = "/admin/leads/lead/"


def shown(response) -> set[str]:
    return {lead.name for lead in response.context["cl"].result_list}


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize(
    "lookup",
    [
        {"payload__icontains": "Hector"},
        {"name__regex": "("},
        {"received_at__year": "x"},
        {"assignee__password__startswith": "pbkdf2"},
        {"deliveries__body__contains": "98"},
    ],
)
def test_a_lookup_the_list_does_not_offer_is_ignored_with_a_message_not_applied(admin_client, make_lead, lookup):
    make_lead(name="Ravi", payload={"car": "MG Hector"})
    make_lead(name="Asha", payload={"car": "MG Astor"})

    response = admin_client.get(URL, {"mine": "all", **lookup})

    assert response.status_code == 200
    assert shown(response) == {"Ravi", "Asha"}  # not filtered by it
    (key,) = lookup
    sql = str(response.context["cl"].queryset.query)
    assert "payload" not in sql
    assert "regex" not in sql.lower()
    assert "~" not in sql
    assert any(key in message and "ignored" in message for message in page_messages(response))
    # The page's own links do not carry it on.
    assert key not in response.context["cl"].get_query_string()


def test_the_lists_own_filters_still_apply_beside_an_ignored_lookup(admin_client, make_lead):
    make_lead(name="Ravi", platform="CarWale")
    make_lead(name="Asha", platform="CarDekho")

    response = admin_client.get(URL, {"mine": "all", "platform__exact": "CarWale", "payload__icontains": "x"})

    assert shown(response) == {"Ravi"}


def test_the_ledger_ignores_a_lookup_on_its_bodies(admin_client):
    response = admin_client.get("/admin/leads/delivery/", {"body__contains": "98"})

    assert response.status_code == 200
    assert "WHERE" not in str(response.context["cl"].queryset.query)
    assert any("body__contains" in message for message in page_messages(response))


def test_an_export_with_an_ignored_lookup_goes_back_to_the_list_which_says_why(manager_client, make_lead):
    make_lead(name="Ravi")

    response = manager_client.get(URL + "export/", {"payload__icontains": "x"})

    assert response.status_code == 302
    assert "payload__icontains" in response["Location"]


def test_a_search_of_many_short_terms_is_cut_with_a_message(admin_client, make_lead, settings):
    settings.ADMIN_SEARCH_MAX_TERMS = 3
    settings.ADMIN_SEARCH_MAX_TERM_CHARS = 5
    make_lead(name="Ravi Kumar")

    response = admin_client.get(URL, {"mine": "all", "q": " ".join(["a"] * 1900)})

    assert response.status_code == 200
    assert response.context["cl"].query == "a a a"
    assert shown(response) == {"Ravi Kumar"}
    assert any("first 3 words" in message for message in page_messages(response))

    long = admin_client.get(URL, {"mine": "all", "q": "Kumarxxxxxxxx"})
    assert long.context["cl"].query == "Kumar"
    assert shown(long) == {"Ravi Kumar"}


def test_a_search_within_the_caps_is_left_alone(admin_client, make_lead):
    make_lead(name="Ravi Kumar")

    response = admin_client.get(URL, {"mine": "all", "q": "Ravi Kumar"})

    assert response.context["cl"].query == "Ravi Kumar"
    assert page_messages(response) == []


class TableLock:
    """Holds an ACCESS EXCLUSIVE lock on the leads table from a connection of its own, until released."""

    def __init__(self) -> None:
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("LOCK TABLE leads_lead IN ACCESS EXCLUSIVE MODE")
                self.locked.set()
                self.release.wait(30)
        finally:
            connection.close()

    def __enter__(self) -> TableLock:
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


@pytest.mark.django_db(transaction=True)
def test_a_list_query_past_the_statement_timeout_gets_a_page_saying_so_not_a_500(admin_client, make_lead, settings):
    make_lead(name="Ravi")
    settings.ADMIN_STATEMENT_TIMEOUT_MS = 300

    with TableLock():  # the list's query waits on the lock, past the timeout, as a slow scan would run
        response = admin_client.get(URL, {"mine": "all", "q": "Ravi"})

    assert response.status_code == 503
    assert "This search took too long" in response.content.decode()
    # The broken transaction was rolled back: the next request works.
    after = admin_client.get(URL, {"mine": "all", "q": "Ravi"})
    assert after.status_code == 200
    assert shown(after) == {"Ravi"}


def _statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_an_admin_change_is_under_the_timeout_too_and_leaves_the_connection_as_it_found_it(
    admin_client, make_lead, settings
):
    lead = make_lead(name="Ravi")
    settings.ADMIN_STATEMENT_TIMEOUT_MS = 300
    before = _statement_timeout()

    with TableLock():  # the action's query of the selected leads waits on the lock, past the timeout
        response = admin_client.post(
            f"{URL}?mine=all", {"action": "export_selected", "_selected_action": [lead.pk], "index": 0}
        )

    assert response.status_code == 503
    assert "This search took too long" in response.content.decode()
    # A change is not one transaction (its views commit as they go), so the timeout was set on the session for
    # the request alone: the connection goes back to the pool without it.
    assert _statement_timeout() == before != "300ms"


@pytest.mark.django_db(transaction=True)
def test_the_webhooks_are_not_under_the_admins_statement_timeout(post_lead, settings):
    from leads.partners import CARDEKHO

    settings.ADMIN_STATEMENT_TIMEOUT_MS = 100

    def release_once_the_webhook_has_waited_long(lock: TableLock) -> None:
        from django.db import connections

        waiting = connections.create_connection("default")
        try:
            while not lock.release.is_set():
                with waiting.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' "
                        "AND now() - query_start > interval '500 milliseconds'"
                    )
                    if cursor.fetchone()[0]:
                        lock.release.set()
        finally:
            waiting.close()

    with TableLock() as lock:
        watcher = threading.Thread(target=release_once_the_webhook_has_waited_long, args=(lock,))
        watcher.start()
        response = post_lead(CARDEKHO, {"name": "Ravi", "mobile": "9876543210", "car_model": "MG Hector"})
        lock.release.set()
        watcher.join(10)

    assert response.status_code == 201, response.content
    assert Lead.objects.filter(name="Ravi").exists()
