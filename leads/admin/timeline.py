"""A lead's timeline: the sales team's changes, recorded with who made them, beside the system's own events."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from leads.common.days import ist_datetime
from leads.models import Lead, LeadEvent, LeadNote
from leads.sales.assignment import CLOSED_STATUSES
from leads.sales.sla import FIRST_CONTACT_FIELDS, HANDOVER_FIELDS, first_contact, lead_handed_over

# What the lead page edits. Notes are not among them: each is a LeadNote of its own, added, never overwritten.
FOLLOW_UP_FIELDS = (
    "status",
    "assignee",
    "next_follow_up_at",
    "test_drive_at",
    "lost_reason",
    "trade_in",
    "finance_interest",
)
# The timeline's lines for a change to one of them made on the lead page.
FOLLOW_UP_KINDS = (LeadEvent.Kind.STATUS_CHANGED, LeadEvent.Kind.ASSIGNEE_CHANGED, LeadEvent.Kind.FOLLOW_UP)


class LeadChangedMeanwhile(Exception):
    """The lead's follow-up changed after the page being saved was opened; saving it would undo that change."""

    def __init__(self, message: str, *, current: str) -> None:
        super().__init__(message)
        self.current = current  # the fingerprint of the lead as it is now


def follow_up_seen(lead: Lead) -> str:
    """A fingerprint of ``lead``'s follow-up fields as they are now: the lead page sends back the one it showed."""
    values = [_comparable(lead.serializable_value(name)) for name in FOLLOW_UP_FIELDS]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


def _comparable(value: Any) -> Any:
    # A time from the form is in IST and one from the database in UTC: the same moment must fingerprint alike.
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def follow_up_conflict(lead: Lead) -> str:
    """What to tell someone whose page of ``lead`` is out of date: who changed it last, and what to do."""
    kinds = [*FOLLOW_UP_KINDS, LeadEvent.Kind.ASSIGNED, LeadEvent.Kind.REASSIGNED]
    last = lead.events.filter(kind__in=kinds).select_related("actor").order_by("-at", "-id").first()
    by = f" ({last.get_kind_display()}, {_name(last.actor) if last.actor else 'system'}, " if last else ""
    at = f"{ist_datetime(last.at)})" if last else ""
    return (
        f"This lead was changed after you opened it{by}{at}. Your changes are not saved yet: they are still in "
        "the form below, and the lead's current state is on its timeline. Check them and press Save again."
    )


def follow_up_check(lead: Lead, seen: str, *, saving: Lead | None = None) -> None:
    """Raise LeadChangedMeanwhile unless ``lead``'s follow-up is still the one ``seen`` fingerprints, or is
    already what ``saving`` holds (the same save sent twice: there is nothing to undo). Its row stays locked
    to the end of the caller's transaction, so nothing changes it between this check and a save."""
    with transaction.atomic():
        current = Lead.objects.select_for_update(of=("self",)).only(*FOLLOW_UP_FIELDS).get(pk=lead.pk)
    if follow_up_seen(current) not in (seen, follow_up_seen(saving) if saving else None):
        raise LeadChangedMeanwhile(follow_up_conflict(lead), current=follow_up_seen(current))


def note_add(*, lead: Lead, author: Any, text: str, at: Any = None) -> LeadNote | None:
    """Add an entry to the lead's notes log (nothing for blank text). Notes are only ever added, so a note
    never conflicts with anyone's change: it is kept even when the rest of a save cannot apply."""
    text = text.strip()
    if not text:
        return None
    return LeadNote.objects.create(lead=lead, author=author, text=text, at=at or timezone.now())


def other_open_leads_move(*, lead: Lead, actor: Any, at: Any) -> int:
    """Hand the buyer's other open leads (same phone) to ``lead``'s new assignee too, each with its timeline
    line and alerts, as on the lead page; in the caller's transaction. Returns how many moved."""
    moved = 0
    others = (
        Lead.objects.real()
        .filter(phone_digits=lead.phone_digits)
        .exclude(phone_digits="")
        .exclude(pk=lead.pk)
        .exclude(status__in=CLOSED_STATUSES)
        .exclude(assignee_id=lead.assignee_id)
        .select_related("assignee")
        .select_for_update(of=("self",))
    )
    for other in others:
        previous = other.assignee
        other.assignee = lead.assignee
        lead_handed_over(other, previous_id=previous.pk if previous else None, at=at, by=actor)
        other.save(update_fields=["assignee", *HANDOVER_FIELDS])
        LeadEvent.objects.create(
            lead=other,
            at=at,
            kind=LeadEvent.Kind.ASSIGNEE_CHANGED,
            actor=actor,
            text=f"Assignee: {_name(previous)} → {_name(lead.assignee)} (with the same buyer's lead #{lead.pk}).",
        )
        moved += 1
    return moved


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
        if lead.status in CLOSED_STATUSES:
            lead.next_follow_up_at = None  # a closed lead has nobody to call back
        if lead.next_follow_up_at != before.next_follow_up_at:
            when = ist_datetime(lead.next_follow_up_at) if lead.next_follow_up_at else "none"
            events.append((LeadEvent.Kind.FOLLOW_UP, f"Next follow-up: {when}."))
        if lead.test_drive_at != before.test_drive_at and lead.test_drive_at:
            events.append((LeadEvent.Kind.FOLLOW_UP, f"Test drive: {ist_datetime(lead.test_drive_at)}."))
        lead.save(update_fields=[*FOLLOW_UP_FIELDS, *FIRST_CONTACT_FIELDS, *HANDOVER_FIELDS])
        return LeadEvent.objects.bulk_create(
            [LeadEvent(lead=lead, at=now, kind=kind, actor=actor, text=text) for kind, text in events]
        )


def timeline_html(lead: Lead) -> SafeString:
    """The lead's events and notes, newest first, every value escaped (a partner's text can reach an event's)."""
    events = [
        (event.at, event.get_kind_display(), event.actor.get_username() if event.actor else "system", event.text, "")
        for event in lead.events.select_related("actor").order_by("-at", "-id")[:500]
    ]
    notes = [
        (note.at, "Note", note.author.get_username() if note.author else "(from the old notes box)", note.text, "note")
        for note in lead.lead_notes.select_related("author").order_by("-at", "-id")[:500]
    ]
    lines = sorted([*events, *notes], key=lambda line: line[0], reverse=True)
    if not lines:
        return format_html("{}", "Nothing yet.")
    return format_html(
        '<ol class="lead-timeline">{}</ol>',
        format_html_join(
            "",
            '<li class="{}"><time>{}</time> · <strong>{}</strong> · {} · {}</li>',
            ((css, ist_datetime(at), kind, who, text) for at, kind, who, text, css in lines),
        ),
    )


def _name(user: Any) -> str:
    return user.get_username() if user is not None else "nobody"
