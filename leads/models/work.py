"""A salesperson's work on a lead: each call attempt with its outcome, and the notes log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from leads.models.lead import Lead


class CallAttempt(models.Model):
    """One try at reaching the buyer: when, who, how (a call or WhatsApp) and what came of it."""

    class Outcome(models.TextChoices):
        CONNECTED = "connected", "Connected"
        NO_ANSWER = "no_answer", "No answer"
        BUSY = "busy", "Busy"
        UNREACHABLE = "unreachable", "Switched off / unreachable"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        # A tap on the Call or WhatsApp button, before its outcome is known.
        TAPPED = "tapped", "Not recorded yet"

    class Channel(models.TextChoices):
        PHONE = "phone", "Phone call"
        WHATSAPP = "whatsapp", "WhatsApp"

    # Calls that did not reach the buyer: the salesperson must set the next follow-up.
    NOT_REACHED = (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.UNREACHABLE)

    # Indexed by the (lead, -at) index below, whose first column it is.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="call_attempts", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PHONE)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "-at"], name="call_attempt_lead_idx")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.at:%Y-%m-%d %H:%M}"


class LeadNote(models.Model):
    """One entry of a lead's notes log. Written once by its author; nobody edits another's note."""

    # Indexed by the (lead, -at) index below, whose first column it is.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="lead_notes", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "-at"], name="lead_note_lead_idx")]

    def __str__(self) -> str:
        return f"note at {self.at:%Y-%m-%d %H:%M}"
