"""Field names partners send that the guide does not list, added by an admin."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from leads.models.api_key import PARTNER_CHOICES
from leads.partners import LEAD_FIELDS

LEAD_FIELD_CHOICES = [(name, name) for name in LEAD_FIELDS]


class FieldAlias(models.Model):
    """A field name a partner sends that the guide does not list, added by an admin without a release.

    The guide's aliases always come first; these follow in the order they were added (leads.intake.aliases).
    """

    partner = models.CharField(max_length=16, choices=PARTNER_CHOICES)
    field = models.CharField(max_length=32, choices=LEAD_FIELD_CHOICES)
    alias = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["partner", "field", "created_at", "id"]
        verbose_name_plural = "field aliases"
        constraints = [models.UniqueConstraint(fields=["partner", "alias"], name="field_alias_unique")]

    def __str__(self) -> str:
        return f"{self.partner}: {self.alias} → {self.field}"
