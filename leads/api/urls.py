from django.urls import re_path

from leads.api.views import PARTNER_VIEWS, UnknownPartnerView

PREFIX = r"admin/mg-digital-leads/source"

# Each path takes an optional trailing slash itself: CommonMiddleware's APPEND_SLASH would answer
# a POST to the other form with a redirect, and a redirected POST is a lost lead.
urlpatterns = [
    *(
        re_path(rf"^{PREFIX}/{slug}/?$", view.as_view(), name=f"lead-webhook-{slug}")
        for slug, view in PARTNER_VIEWS.items()
    ),
    re_path(rf"^{PREFIX}/(?P<slug>[^/]*)/?$", UnknownPartnerView.as_view(), name="lead-webhook-unknown"),
    re_path(rf"^{PREFIX}(?:/(?P<slug>.*))?$", UnknownPartnerView.as_view()),
]
