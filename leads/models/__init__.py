"""The app's models, one file per concept; everything is re-exported here, so ``from leads.models import Lead``."""

from leads.models.api_key import ENVIRONMENT_PREFIX, PARTNER_CHOICES, ApiKey, ApiKeyQuerySet
from leads.models.delivery import (
    REFUSED_FOR_THEIR_BODY,
    REFUSED_STATUSES,
    REPLAY_REQUEST_PREFIX,
    Delivery,
    DeliveryQuerySet,
)
from leads.models.events import LeadEvent
from leads.models.field_alias import LEAD_FIELD_CHOICES, FieldAlias
from leads.models.lead import PLATFORM_CHOICES, WALK_IN, Lead, LeadQuerySet, LostReason
from leads.models.privacy import ErasedPhone, ErasureRecord, ExportRecord, erased_phone_digest
from leads.models.sales import AssignmentRotation, SalesProfile
from leads.models.work import CallAttempt, LeadNote

__all__ = [
    "ENVIRONMENT_PREFIX",
    "LEAD_FIELD_CHOICES",
    "PARTNER_CHOICES",
    "PLATFORM_CHOICES",
    "REFUSED_FOR_THEIR_BODY",
    "REFUSED_STATUSES",
    "REPLAY_REQUEST_PREFIX",
    "WALK_IN",
    "ApiKey",
    "ApiKeyQuerySet",
    "AssignmentRotation",
    "CallAttempt",
    "Delivery",
    "DeliveryQuerySet",
    "ErasedPhone",
    "ErasureRecord",
    "ExportRecord",
    "FieldAlias",
    "Lead",
    "LeadEvent",
    "LeadNote",
    "LeadQuerySet",
    "LostReason",
    "SalesProfile",
    "erased_phone_digest",
]
