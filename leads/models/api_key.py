"""A partner's API key: its prefix and hash, never the key itself."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from leads.partners import PARTNERS

# The prefix the ledger records for a key from the environment (settings.LEAD_API_KEYS), which has none of its own.
ENVIRONMENT_PREFIX = "env"
PARTNER_CHOICES = [(partner.slug, partner.name) for partner in PARTNERS]


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self, *, at: datetime | None = None) -> ApiKeyQuerySet:
        """The keys that work at ``at`` (default: now): the one definition of a working key.

        ``revoked_at`` in the future is a rotation's grace period: the key works until then.
        """
        at = timezone.now() if at is None else at
        return self.filter(models.Q(revoked_at__isnull=True) | models.Q(revoked_at__gt=at)).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at)
        )


class ApiKey(models.Model):
    """A partner's API key, kept only as a SHA-256 digest; the secret is shown once at creation.

    ``revoked_at`` in the future is a rotation's grace period: the key works until then.
    """

    partner = models.CharField(max_length=16, choices=PARTNER_CHOICES)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A staging key (guide §8): its leads are stored and answered as usual, marked as tests.
    is_test = models.BooleanField("test key", default=False, db_default=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix} ({self.partner})"

    def state(self, *, at: datetime | None = None) -> str:
        """For people: active, grace (rotated out but still working), revoked or expired.

        Whether a key works is ``ApiKey.objects.active()``'s to say; this only names the stage.
        """
        at = at or timezone.now()
        if self.revoked_at and self.revoked_at <= at:
            return "revoked"
        if self.expires_at and self.expires_at <= at:
            return "expired"
        return "grace" if self.revoked_at else "active"
