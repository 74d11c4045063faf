from django.contrib import admin

from leads.models import ApiKey, Delivery, Lead


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["received_at", "platform", "name", "phone_number", "car_model", "campaign"]
    list_filter = ["platform"]
    readonly_fields = [f.name for f in Lead._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "platform", "status_code", "outcome", "key_prefix", "client_ip", "latency_ms"]
    list_filter = ["platform", "outcome", "status_code"]
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "partner", "label", "created_at", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["digest"]
    readonly_fields = ["partner", "prefix", "label", "created_at", "expires_at", "revoked_at", "last_used_at"]
