"""With DEBUG off and production-like settings, the web server serves everything a person or partner opens."""

from __future__ import annotations

import gc
import json
import re
import runpy
import urllib.request

import pytest
from django.db import connections

from leads.partners import CARDEKHO, PARTNERS
from tests.servers import ROOT, gunicorn, post_json, server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HTTPS = {"X-Forwarded-Proto": "https"}  # what Render's edge adds after terminating TLS


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    status, response_headers, body = fetch_with_headers(url, headers)
    return status, response_headers.get("Content-Type", ""), body


def fetch_with_headers(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback only)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


@pytest.fixture
def server(static_root):
    with gunicorn(server_env(STATIC_ROOT=str(static_root), DEBUG="0"), workers=2) as base:
        yield base


def test_admin_login_page_and_its_hashed_compressed_css(server):
    status, _, body = fetch(f"{server}/admin/login/", HTTPS)
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', body.decode())

    assert status == 200
    assert css, "the admin links its CSS through the manifest (hashed names)"
    css_status, css_headers, css_body = fetch_with_headers(
        f"{server}{css.group(1)}", {**HTTPS, "Accept-Encoding": "gzip"}
    )
    assert css_status == 200
    assert css_headers["Content-Type"].startswith("text/css")
    assert css_headers.get("Content-Encoding") == "gzip"
    assert "immutable" in css_headers.get("Cache-Control", "")
    assert css_body


def test_healthz_over_plain_http(server):
    status, content_type, body = fetch(f"{server}/healthz")

    assert status == 200
    assert content_type == "application/json"
    assert b'"database": "ok"' in body


def test_api_schema_and_docs_with_their_local_assets(server):
    schema_status, _, schema = fetch(f"{server}/api/schema/?format=json", HTTPS)
    docs_status, _, docs = fetch(f"{server}/api/docs/", HTTPS)
    asset = re.search(r'src="(/static/drf_spectacular_sidecar/swagger-ui-dist/[^"]+\.js)"', docs.decode())

    assert schema_status == 200
    assert b"/admin/mg-digital-leads/source/cardekho" in schema
    assert docs_status == 200
    assert asset
    assert fetch(f"{server}{asset.group(1)}", HTTPS)[0] == 200


@pytest.mark.parametrize("path", ["/docs/integration/", *(f"/docs/integration/{p.slug}/" for p in PARTNERS)])
def test_integration_pages(server, path):
    status, content_type, body = fetch(f"{server}{path}", HTTPS)

    assert status == 200
    assert content_type.startswith("text/html")
    assert b"integration" in body.lower()


def test_each_webhook_request_is_logged_once(static_root, tmp_path):
    # gunicorn and uvicorn each write an access line for every request unless told not to; ours already
    # has one JSON line per request, so a second would double the log volume.
    log = tmp_path / "server.log"
    env = server_env(STATIC_ROOT=str(static_root), DEBUG="0", LEAD_API_KEY_CARDEKHO="log-once-key")
    with gunicorn(env, log=log) as base:
        status, _, _ = post_json(f"{base}{CARDEKHO.path}", dict(CARDEKHO.sample), key="log-once-key")
        fetch(f"{base}/healthz")
    assert status == 201
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    webhook_lines = [r for r in records if r.get("status") == 201]
    assert len(webhook_lines) == 1, webhook_lines
    assert not [r for r in records if r.get("logger") in ("gunicorn.access", "uvicorn.access")]


def test_workers_freeze_what_the_app_allocated_at_startup():
    # A worker's startup objects live as long as it does; rescanning them in every full garbage
    # collection stalled all of its threads (bench/ingest.py).
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    try:
        config["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_master_loads_what_a_first_lead_needs_before_forking_without_connecting():
    # Workers fork from the master (preload_app), so a worker that replaces another starts
    # warm. A database connection opened before fork would be shared by every worker.
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["preload_app"] is True
    connections.close_all()
    try:
        config["when_ready"](None)
        assert gc.get_freeze_count() > 0
        assert [c.alias for c in connections.all() if c.connection is not None] == []
    finally:
        gc.unfreeze()


def test_the_server_is_the_asgi_app_on_uvicorn_workers(server):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert config["wsgi_app"] == "raamcrm.asgi:application"
    assert config["worker_class"] == "raamcrm.http_server.Worker"
    status, headers, _ = fetch_with_headers(f"{server}/healthz")
    assert status == 200
    assert headers["server"] == "uvicorn"


@pytest.mark.parametrize("name", ["PORT", "WEB_CONCURRENCY"])
def test_a_malformed_server_setting_stops_start_up_with_its_name(monkeypatch, name):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv(name, "four")

    with pytest.raises(ImproperlyConfigured, match=f"{name}='four' is not a whole number"):
        runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_a_malformed_read_deadline_stops_start_up_with_its_name(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("REQUEST_READ_DEADLINE", "five")

    with pytest.raises(ImproperlyConfigured, match="REQUEST_READ_DEADLINE='five' is not a whole number"):
        runpy.run_path(str(ROOT / "raamcrm" / "http_server.py"))
