"""The sales team's own state: each salesperson's on-duty switch, the rotation's bookkeeping."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SalesProfile(models.Model):
    """A salesperson's on-duty switch. A Sales user with no profile yet counts as on duty."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_profile")
    on_duty = models.BooleanField(default=True, help_text="New leads are assigned only to people on duty.")

    class Meta:
        ordering = ["user__username"]
        # What it is to the people who flip it: the admin lists it as "On-duty switches".
        verbose_name = "on-duty switch"
        verbose_name_plural = "on-duty switches"

    def __str__(self) -> str:
        return f"{self.user} ({'on duty' if self.on_duty else 'off duty'})"


class AssignmentRotation(models.Model):
    """One row: when the Sales managers were last told that nobody is on duty (leads.sales.assignment).

    The round-robin turns themselves come from a sequence, so that no new lead waits for another.
    """

    SINGLETON = 1
    # They hear it again only after a lead has been assigned since (the gap ended, and a new one began).
    unstaffed_alerted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"managers last told nobody is on duty at {self.unstaffed_alerted_at}"
