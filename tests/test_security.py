"""Production hardening: HTTPS only, secure cookies and headers, and check --deploy passing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from leads.models import Lead
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_passes_with_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update(
        SECRET_KEY="a-long-random-production-like-secret-key-for-the-deploy-check-0123456789",
        ALLOWED_HOSTS="raam-group-all-websites.onrender.com",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_page_is_redirected_to_https(client):
    response = client.get("/admin/login/")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_webhook_post_gets_a_308_that_keeps_the_body(client, keys):
    response = client.post(CARDEKHO.path, "{}", content_type="application/json", HTTP_X_API_KEY=keys["cardekho"])

    assert response.status_code == 308
    assert response["Location"] == f"https://testserver{CARDEKHO.path}"
    assert not Lead.objects.exists()


@override_settings(SECURE_SSL_REDIRECT=True)
def test_https_behind_render_proxy_is_served_with_hsts(client, post_lead):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample), HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 201
    assert "max-age=31536000" in response["Strict-Transport-Security"]


def test_security_headers_are_set(client):
    response = client.get("/admin/login/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_cookies_are_secure_and_http_only(settings):
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.CSRF_COOKIE_HTTPONLY is True
