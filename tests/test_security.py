"""Production hardening: HTTPS only, secure cookies and headers, and check --deploy passing."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from leads import checks as lead_checks
from leads.intake.views import CarDekhoLeadView, UnknownPartnerView
from leads.models import Lead
from leads.partners import CARDEKHO, CARWALE, PARTNERS

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
# The partners' copy of the guide; it lives beside the repository, never inside it.
GUIDE = ROOT.parent / "shared" / "integration-guide.md"
KEY_VARIABLES = [variable for partner in PARTNERS for variable in settings.LEAD_API_KEY_VARIABLES[partner.slug]]


def guide_keys() -> dict[str, str]:
    """The production key values the guide prints in §3.1, read at test time so no file here holds them."""
    if not GUIDE.exists():
        pytest.skip(f"needs the integration guide at {GUIDE}")
    rows = re.findall(r"^\|\s*(CarDekho|CarWale)\s*\|.*`([^`]+)`\s*\|\s*$", GUIDE.read_text(), re.MULTILINE)
    assert len(rows) == len(PARTNERS), rows
    return {name.lower(): value for name, value in rows}


def render_deploy_check() -> list[str]:
    """The deploy check as render.yaml runs it before each deploy: the first step of its preDeployCommand."""
    from tests.test_render_blueprint import WEB

    first_step = WEB["preDeployCommand"].split("&&")[0]
    python, *arguments = shlex.split(first_step)
    assert python == "python" and arguments[:3] == ["manage.py", "check", "--deploy"], first_step
    return [sys.executable, *arguments]


def check_deploy(**keys: str) -> subprocess.CompletedProcess[str]:
    """Runs render.yaml's deploy check (``render_deploy_check``) the way Render's settings would, with these keys."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE", *KEY_VARIABLES)}
    env.update(
        SECRET_KEY="a-long-random-production-like-secret-key-for-the-deploy-check-0123456789",
        ALLOWED_HOSTS="raam-group-all-websites.onrender.com",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        # The test database: migrated, so checks that read tables (the schema's) see them.
        DATABASE_URL=urlsplit(os.environ["DATABASE_URL"])
        ._replace(path="/" + connection.settings_dict["NAME"])
        .geturl(),
        **keys,
    )
    return subprocess.run(
        render_deploy_check(),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings_and_strong_keys():
    result = check_deploy(
        LEAD_API_KEY_CARDEKHO=secrets.token_urlsafe(32), LEAD_API_KEY_CARWALE=secrets.token_urlsafe(32)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        pytest.param({"LEAD_API_KEY_CARDEKHO": "k"}, "leads.E005", id="one character"),
        pytest.param({"CARWALE_API_KEY": secrets.token_urlsafe(32)[:31]}, "leads.E005", id="31 characters, by alias"),
        pytest.param(
            dict.fromkeys(("LEAD_API_KEY_CARDEKHO", "LEAD_API_KEY_CARWALE"), secrets.token_urlsafe(32)),
            "leads.E006",
            id="one key for both partners",
        ),
    ],
)
def test_check_deploy_fails_with_a_weak_environment_key(keys, error):
    result = check_deploy(**keys)

    assert result.returncode != 0
    assert error in result.stderr + result.stdout


def test_check_deploy_fails_with_a_key_printed_in_the_guide():
    printed = guide_keys()

    result = check_deploy(LEAD_API_KEY_CARDEKHO=printed["cardekho"], LEAD_API_KEY_CARWALE=secrets.token_urlsafe(32))

    assert result.returncode != 0
    assert "leads.E007" in result.stderr + result.stdout
    assert printed["cardekho"] not in result.stderr + result.stdout


def test_the_printed_key_digests_are_those_of_the_guides_values():
    printed = guide_keys()

    assert {hashlib.sha256(value.encode()).hexdigest() for value in printed.values()} == lead_checks.PRINTED_KEY_DIGESTS


def test_a_key_whose_digest_is_listed_as_printed_is_refused(monkeypatch):
    known = secrets.token_urlsafe(32)
    monkeypatch.setattr(lead_checks, "PRINTED_KEY_DIGESTS", frozenset({hashlib.sha256(known.encode()).hexdigest()}))

    messages = lead_checks.environment_key_problems({CARDEKHO.slug: known, CARWALE.slug: secrets.token_urlsafe(32)})

    assert [message.id for message in messages] == ["leads.E007"]


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


def test_an_api_view_that_names_no_permission_classes_is_closed(rf):
    class Forgetful(APIView):
        def get(self, request):
            return Response({"leads": "all of them"})

    response = Forgetful.as_view()(rf.get("/new-endpoint"))

    assert response.status_code in (401, 403)
    assert "all of them" not in response.rendered_content.decode()


def test_the_webhook_views_say_what_they_allow():
    assert CarDekhoLeadView.permission_classes == [IsAuthenticated]
    assert UnknownPartnerView.permission_classes == [AllowAny]


@pytest.mark.parametrize("path", ["/admin/login/", "/docs/integration/", "/api/docs/"])
def test_html_pages_carry_a_content_security_policy_without_unsafe_inline(client, path):
    response = client.get(path)

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_inline_styles_and_scripts_carry_the_responses_nonce(client):
    response = client.get("/api/docs/")

    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])[1]
    html = response.content.decode()
    assert f'<style nonce="{nonce}">' in html
    assert f'<script nonce="{nonce}">' in html


def test_webhook_answers_are_left_as_the_guide_shows_them(post_lead, keys):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample))

    assert response.status_code == 201
    assert "Content-Security-Policy" not in response


def test_a_report_only_policy_that_does_not_exclude_the_webhooks_still_reaches_them(post_lead, keys, settings):
    # The middleware skips the webhooks only because every configured policy excludes them.
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}

    response = post_lead(CARDEKHO, dict(CARDEKHO.sample))

    assert response.status_code == 201
    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"] == "default-src 'self'"
