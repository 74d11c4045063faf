"""Our system checks: the partner registry fits its columns and names each partner's key variables."""

from __future__ import annotations

import dataclasses

import pytest
from django.core import checks

from leads import checks as lead_checks
from leads.partners import CARDEKHO, CARWALE


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


def test_the_shipped_registry_and_settings_pass_every_check():
    messages = checks.run_checks(include_deployment_checks=False, databases=None)

    assert [i for i in ids(messages) if i.startswith("leads.")] == []


def test_two_partners_with_one_slug_are_refused(monkeypatch):
    monkeypatch.setattr(lead_checks, "PARTNERS", (CARDEKHO, dataclasses.replace(CARWALE, slug="cardekho")))

    assert ids(lead_checks.check_partner_registry()) == ["leads.E001"]


def test_a_partner_name_longer_than_the_platform_column_is_refused(monkeypatch):
    monkeypatch.setattr(lead_checks, "PARTNERS", (CARDEKHO, dataclasses.replace(CARWALE, name="C" * 17)))

    assert ids(lead_checks.check_partner_registry()) == ["leads.E002"]


def test_a_partner_without_key_variables_is_refused(settings):
    settings.LEAD_API_KEY_VARIABLES = {"cardekho": ("LEAD_API_KEY_CARDEKHO",)}

    assert ids(lead_checks.check_partner_registry()) == ["leads.E011"]


@pytest.mark.parametrize(
    ("settings_given", "problem"),
    [
        ({"days": ["monday", "tuesday"]}, "leads.E008"),
        ({"days": []}, "leads.E008"),
        ({"hours": (30, 19)}, "leads.E009"),
        ({"hours": (19, 9)}, "leads.E009"),
        ({"hours": (9, 25)}, "leads.E009"),
        ({"soft": "1000/m", "hard": "10/m"}, "leads.E010"),
        ({"soft": "600/m", "hard": "600/m"}, "leads.E010"),
        ({"soft": "600/m", "hard": "600/h"}, "leads.E010"),  # an hour's ceiling reached within any minute
    ],
)
def test_a_business_calendar_or_limits_that_make_no_sense_fail_the_check(settings_given, problem):
    sensible = {"days": ["mon", "sat"], "hours": (9, 19), "soft": "120/m", "hard": "600/m"}

    problems = lead_checks.calendar_and_limit_problems(**{**sensible, **settings_given})

    assert [message.id for message in problems] == [problem]
    assert lead_checks.calendar_and_limit_problems(**sensible) == []


@pytest.mark.parametrize(("soft", "hard"), [("120/m", "1000/h"), ("10/s", "100/m"), ("2000/h", "100/m")])
def test_limits_of_other_shapes_that_can_both_act_pass_the_check(soft, hard):
    # 121 leads in a minute are flagged under 1000/h; 11 in a second under 100/m; 2001 in an hour under 100/m.
    sensible = {"days": ["mon"], "hours": (9, 19)}

    assert lead_checks.calendar_and_limit_problems(**sensible, soft=soft, hard=hard) == []
