"""Our URLs, plus /baseline/: the same Lead model in a plain, unconfigured ModelAdmin."""

import json

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from leads.models import Lead
from raamcrm.urls import urlpatterns as project_urlpatterns

baseline_site = admin.AdminSite(name="baseline")


@admin.register(Lead, site=baseline_site)
class PlainLeadAdmin(admin.ModelAdmin):
    """What a Django developer writes first: the same columns, filters and search, no tuning."""

    list_display = ["received_at", "platform", "name", "phone_number", "car_model", "campaign", "status", "assignee"]
    list_filter = ["platform", "status", "assignee", "car_model", "campaign", "received_at"]
    search_fields = ["name", "phone_number", "car_model", "campaign"]


@csrf_exempt
def baseline_insert(request: HttpRequest) -> JsonResponse:
    """The ingest benchmark's baseline: parse, insert one row into the same table, answer. No auth,
    no ledger, no limits, no phone normalising, no dedupe."""
    payload = json.loads(request.body)
    lead = Lead.objects.create(
        platform="CarWale",
        name=str(payload["name"])[:255],
        phone_number=str(payload["phone_number"])[:64],
        campaign="baseline",
        payload=payload,
    )
    return JsonResponse({"id": str(lead.public_id)}, status=201)


urlpatterns = [
    path("baseline/", baseline_site.urls),
    path("bench/baseline-insert", baseline_insert),
    *project_urlpatterns,
]
