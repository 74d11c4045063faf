from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The partner webhooks live under /admin/ (guide §4), so they must match before the admin does.
    path("", include("leads.api.urls")),
    path("admin/", admin.site.urls),
]
