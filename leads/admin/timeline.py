"""A lead's timeline: the sales team's changes, recorded with who made them, beside the system's own events."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from leads.models import Lead, LeadEvent
from leads.sales.sla import FIRST_CONTACT_FIELDS, HANDOVER_FIELDS, first_contact, lead_handed_over

FOLLOW_UP_FIELDS = ("status", "assignee", "notes")
# The timeline's lines for a change to one of them made on the lead page.
FOLLOW_UP_KINDS = (LeadEvent.Kind.STATUS_CHANGED, LeadEvent.Kind.ASSIGNEE_CHANGED, LeadEvent.Kind.NOTES_CHANGED)


class LeadChangedMeanwhile(Exception):
    """The lead's follow-up changed after the page being saved was opened; saving it would undo that change."""


def follow_up_seen(lead: Lead) -> str:
    """A fingerprint of ``lead``'s follow-up fields as they are now: the lead page sends back the one it showed."""
    values = [lead.serializable_value(name) for name in FOLLOW_UP_FIELDS]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


def follow_up_conflict(lead: Lead) -> str:
    """What to tell someone whose page of ``lead`` is out of date: who changed it last, and what to do."""
    kinds = [*FOLLOW_UP_KINDS, LeadEvent.Kind.ASSIGNED, LeadEvent.Kind.REASSIGNED]
    last = lead.events.filter(kind__in=kinds).select_related("actor").order_by("-at", "-id").first()
    by = f" ({last.get_kind_display()}, {_name(last.actor) if last.actor else 'system'}, " if last else ""
    at = f"{timezone.localtime(last.at):%d %b %Y %H:%M})" if last else ""
    return (
        f"This lead was changed after you opened it{by}{at}. Nothing was saved: open the lead again to see "
        "the change, then make yours."
    )


def follow_up_check(lead: Lead, seen: str, *, saving: Lead | None = None) -> None:
    """Raise LeadChangedMeanwhile unless ``lead``'s follow-up is still the one ``seen`` fingerprints, or is
    already what ``saving`` holds (the same save sent twice: there is nothing to undo). Its row stays locked
    to the end of the caller's transaction, so nothing changes it between this check and a save."""
    with transaction.atomic():
        current = Lead.objects.select_for_update(of=("self",)).only(*FOLLOW_UP_FIELDS).get(pk=lead.pk)
    if follow_up_seen(current) not in (seen, follow_up_seen(saving) if saving else None):
        raise LeadChangedMeanwhile(follow_up_conflict(lead))


def lead_follow_up_save(*, lead: Lead, actor: Any) -> list[LeadEvent]:
    """Save a salesperson's edit of ``lead``'s follow-up fields and put each change on its timeline.

    Moving the lead out of New is its first contact, unless it had one already (that one is kept).
    A lead handed to someone else is theirs at once (``sla.lead_handed_over``, as in the SLA's reassignment).
    Only the follow-up fields are written, so a change made meanwhile by someone else (a "Called" click,
    the periodic job's alert mark) is not overwritten with what this form loaded. That nobody changed the
    follow-up itself since the page was opened is ``follow_up_check``'s to say, before this runs.
    """
    now = timezone.now()
    with transaction.atomic():
        before = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("assignee")
            .only(*FOLLOW_UP_FIELDS, *FIRST_CONTACT_FIELDS, *HANDOVER_FIELDS, "assignee__username")
            .get(pk=lead.pk)
        )
        events = []
        if lead.status != before.status:
            events.append(
                (LeadEvent.Kind.STATUS_CHANGED, f"Status: {before.get_status_display()} → {lead.get_status_display()}.")
            )
        lead.first_contacted_at = before.first_contacted_at
        lead.first_contact_business_minutes = before.first_contact_business_minutes
        if lead.first_contacted_at is None and before.status == Lead.Status.NEW and lead.status != Lead.Status.NEW:
            for field, value in first_contact(received_at=lead.received_at, at=now).items():
                setattr(lead, field, value)
        lead.reassigned_at, lead.alert_pending = before.reassigned_at, before.alert_pending
        if lead.assignee_id != before.assignee_id:
            lead_handed_over(lead, previous_id=before.assignee_id, at=now, by=actor)
            events.append(
                (LeadEvent.Kind.ASSIGNEE_CHANGED, f"Assignee: {_name(before.assignee)} → {_name(lead.assignee)}.")
            )
        if lead.notes != before.notes:
            events.append((LeadEvent.Kind.NOTES_CHANGED, "Notes edited."))
        lead.save(update_fields=[*FOLLOW_UP_FIELDS, *FIRST_CONTACT_FIELDS, *HANDOVER_FIELDS])
        return LeadEvent.objects.bulk_create(
            [LeadEvent(lead=lead, at=now, kind=kind, actor=actor, text=text) for kind, text in events]
        )


def timeline_html(lead: Lead) -> SafeString:
    """The lead's events, oldest first, every value escaped (a partner's text can reach an event's)."""
    events = list(lead.events.select_related("actor").order_by("at", "id")[:500])
    if not events:
        return format_html("{}", "Nothing yet.")
    return format_html(
        '<ol class="lead-timeline">{}</ol>',
        format_html_join(
            "",
            "<li><time>{}</time> · <strong>{}</strong> · {} · {}</li>",
            (
                (
                    timezone.localtime(event.at).strftime("%d %b %Y %H:%M"),
                    event.get_kind_display(),
                    event.actor.get_username() if event.actor else "system",
                    event.text,
                )
                for event in events
            ),
        ),
    )


def _name(user: Any) -> str:
    return user.get_username() if user is not None else "nobody"
