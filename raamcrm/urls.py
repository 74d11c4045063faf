from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    # The partner webhooks live under /admin/ (guide §4), so they must match before the admin does.
    path("", include("leads.intake.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("docs/", include("leads.intake.guide.urls")),
    path("admin/", admin.site.urls),
]

# A partner's lead sent to a path no route matches gets the API's JSON 404, ledgered; anyone else Django's page.
handler404 = "leads.intake.middleware.page_not_found"
