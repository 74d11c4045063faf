"""The admin's screens. Django's admin autodiscovery imports this package, which registers them, and adds the
leads' dashboard and the managers' reports to the project's admin site."""

from django.contrib import admin

from leads.admin import duty, leads, ops  # noqa: F401  (importing them registers their screens)
from leads.admin.board import board_urls
from leads.reporting.views import index_context, report_urls
from leads.sales.permissions import may_export
from raamcrm.admin_site import RaamAdminSite

assert isinstance(admin.site, RaamAdminSite), admin.site  # raamcrm.apps.RaamAdminConfig makes it the default
admin.site.index_context_providers.append(index_context)
admin.site.url_providers.append(report_urls)
# Those who may export leads hold enough to need a second factor (REQUIRE_2FA_FOR names them "managers").
admin.site.second_factor_roles["managers"] = may_export
admin.site.url_providers.append(board_urls)
