import re

from django.urls import URLPattern, re_path

from leads.intake.views import PARTNER_VIEWS, UnknownPartnerView
from leads.partners import WEBHOOK_PREFIXES


def _any_case(path: str) -> str:
    """A regex for ``path`` in any case. Not the (?i) flag: Django cannot reverse a URLconf holding one."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in path)


def webhook_patterns(name: str, prefix: str) -> list[URLPattern]:
    # Each path takes an optional trailing slash itself: CommonMiddleware's APPEND_SLASH would answer
    # a POST to the other form with a redirect, and a redirected POST is a lost lead.
    return [
        *(
            re_path(rf"^{prefix}/{slug}/?$", view.as_view(), name=f"lead-webhook-{name}-{slug}")
            for slug, view in PARTNER_VIEWS.items()
        ),
        # In any case: /Admin/MG-Digital-Leads/source/cardekho is the CarDekho endpoint too (UnknownPartnerView).
        re_path(rf"^{_any_case(prefix)}(?:/(?P<slug>.*))?$", UnknownPartnerView.as_view()),
    ]


urlpatterns = [pattern for name, prefix in WEBHOOK_PREFIXES.items() for pattern in webhook_patterns(name, prefix)]
