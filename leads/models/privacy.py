"""Records of what was done with buyers' personal data: erasures and exports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac


class ErasureRecord(models.Model):
    """One buyer's request to erase their data (``erase_buyer``): who asked, when, and what changed.

    The phone itself is kept only masked, like the logs keep it: a record of an erasure must not undo it.
    """

    requested_by = models.CharField(max_length=255, help_text="Who asked: an email address or a ticket.")
    performed_at = models.DateTimeField(default=timezone.now)
    phone_masked = models.CharField("phone (masked)", max_length=64)
    leads_erased = models.PositiveIntegerField(default=0)
    deliveries_erased = models.PositiveIntegerField(default=0)
    log_entries_erased = models.PositiveIntegerField("admin log entries erased", default=0)
    exports_erased = models.PositiveIntegerField("export records erased", default=0)

    class Meta:
        ordering = ["-performed_at", "-id"]

    def __str__(self) -> str:
        return f"erasure of {self.phone_masked} for {self.requested_by}"


# The HMAC's key is derived from SECRET_KEY under this salt, so the digest means nothing to anyone without the key.
_DIGEST_SALT = "leads.ErasedPhone"


def erased_phone_digest(digits: str, *, secret: str | bytes | None = None) -> str:
    """The keyed digest of a phone's normalised digits (leads.common.phones: the E.164 digits when it parses)."""
    return salted_hmac(_DIGEST_SALT, digits, secret=secret, algorithm="sha256").hexdigest()


class ErasedPhoneQuerySet(models.QuerySet["ErasedPhone"]):
    def of(self, digits: str) -> ErasedPhoneQuerySet:
        """The erasure of the phone with these normalised digits, if it was erased: its digest under SECRET_KEY
        or any of SECRET_KEY_FALLBACKS, so rotating the key the documented way forgets no erasure."""
        if not digits:
            return self.none()
        secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        return self.filter(digest__in=[erased_phone_digest(digits, secret=secret) for secret in secrets])


class ErasedPhone(models.Model):
    """A phone erased on request, kept only as a keyed digest (no one can read the phone back from it).

    ``replay_deliveries`` checks a delivery's buyer against it: a delivery received before ``erased_at`` is
    never stored again, even if erase_buyer could not read its body. The buyer's enquiries after that are
    new leads, as usual: they wrote to us again.
    """

    digest = models.CharField(max_length=64, unique=True)
    # The latest erasure of this phone: deliveries received before it are that buyer's old enquiries.
    erased_at = models.DateTimeField(default=timezone.now)

    objects = ErasedPhoneQuerySet.as_manager()

    class Meta:
        verbose_name = "erased phone (digest)"

    def __str__(self) -> str:
        return f"a phone erased at {self.erased_at:%Y-%m-%d %H:%M}"


class ExportRecord(models.Model):
    """One CSV export of leads: who, when, which filter, and how many rows left the building."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept apart from ``user`` so the record outlives the account.
    username = models.CharField(max_length=150)
    started_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16)  # "filtered", "selected", or "paged" (leads.admin.query_budget)
    query = models.TextField("filter (query string)", blank=True)
    row_count = models.PositiveIntegerField(default=0)
    # Set when the stream ends; ``complete`` only when every row was sent (not cut off by the client).
    finished_at = models.DateTimeField(null=True, blank=True)
    complete = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} export by {self.username}"
