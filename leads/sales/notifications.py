"""The emails the queue sends about leads, through Django's email backend (SMTP providers plug in by settings).

Everything a partner sent is a stranger's text: the HTML part is rendered with autoescaping, links are
built only from the normalised phone's digits and our own URLs, and subjects lose their line breaks.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, mail_admins
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from leads.common import db_locks
from leads.common.days import ist_datetime
from leads.common.text import one_line
from leads.models import Lead, LeadEvent
from leads.sales import sla
from leads.sales.assignment import nobody_on_duty_alert_claim
from leads.sales.permissions import managers
from leads.sales.repeat_buyers import repeat_buyer_ids

logger = logging.getLogger(__name__)

# One email names at most this many leads; a job with more pending sends another.
DIGEST_MAX_LEADS = 50


def new_leads_alert_send(*, user_id: int | None, joined_under: str | None = None) -> int:
    """Mail a salesperson about each of their new leads not yet alerted (``Lead.alert_pending``), or with
    ``user_id`` None tell the Sales managers that leads arrived with nobody on duty, once per gap
    (leads.sales.assignment). Returns how many leads it covered.

    New leads join their recipient's waiting job as they commit (leads.sales.alerts). One that joined while the
    worker was taking the job may still be committing: it holds a shared lock under the job's queueing lock
    (``joined_under``), so taking that lock exclusively first waits for every such lead.

    One lead gets the one-lead email, more a digest. A send that fails raises and rolls back, so those
    leads stay pending for the queue's retry (and a lead arriving meanwhile joins that retry).
    """
    if joined_under:
        with transaction.atomic():
            db_locks.advisory_lock(joined_under)
    covered = 0
    while True:
        with transaction.atomic():
            leads = list(
                Lead.objects.filter(alert_pending=True, assignee_id=user_id)
                .select_related("assignee")
                .defer("payload")  # the partner's whole JSON: parsing it is most of loading a lead
                .order_by("received_at", "id")
                .select_for_update(of=("self",), skip_locked=True)[:DIGEST_MAX_LEADS]
            )
            if not leads:
                return covered
            if user_id is not None:
                _assignee_alert(leads)
            elif nobody_on_duty_alert_claim():
                nobody_on_duty_alert_send(lead_id=leads[0].pk)
            Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(alert_pending=False)
        covered += len(leads)


def assignee_alert_send(*, lead_id: int, user_id: int | None = None) -> bool:
    """Email the lead's assignee that it is theirs (a lead handed over, say), if it is still ``user_id``'s:
    a lead handed on again before this ran is announced by the later handover's job, to its new assignee.

    Returns False when there is nobody to tell (lead gone, unassigned, or no longer ``user_id``'s). An
    assignee without an email address is told through the Sales managers instead. A mail server that
    refuses or is down raises, and the queue retries with backoff.
    """
    lead = Lead.objects.select_related("assignee").filter(pk=lead_id).first()
    if lead is None or (user_id is not None and lead.assignee_id != user_id):
        return False
    return _assignee_alert([lead], handed_over=True)


def _assignee_alert(leads: list[Lead], *, handed_over: bool = False) -> bool:
    """One email to the leads' assignee naming each of them (or, when they have no email address, to the
    Sales managers, so the leads are not left waiting unseen); each lead's timeline records the send.
    A lead ``handed_over`` from someone else says so, as it may be old and already worked."""
    assignee = leads[0].assignee
    if assignee is None:
        return False
    first = leads[0]
    repeat = repeat_buyer_ids(leads)
    if len(leads) == 1:
        what = "Lead handed to you" if handed_over else "New lead"
        again = " (repeat buyer)" if first.pk in repeat else ""
        subject = f"{what}{again}: {first.name}, {first.car_model or 'no model'}"
    else:
        subject = f"{len(leads)} new leads: " + ", ".join(lead.name for lead in leads)
    context = {
        "items": [{**lead_email_context(lead), "repeat_buyer": lead.pk in repeat} for lead in leads],
        "handed_over": _handed_over_line(first) if handed_over else "",
    }
    body = render_to_string("leads/email/new_lead.txt", context)
    if assignee.email:
        message = EmailMultiAlternatives(
            subject=_one_line(settings.EMAIL_SUBJECT_PREFIX + subject), body=body, to=[assignee.email]
        )
        message.attach_alternative(render_to_string("leads/email/new_lead.html", context), "text/html")
        message.send()
        text = f"{'Hand-over' if handed_over else 'New-lead'} alert emailed to {assignee.email}."
    else:
        name = assignee.get_username()
        told = _mail_managers(
            _one_line(f"For {name}, who has no email address: {subject}"),
            f"{name} has no email address in Raam CRM, so this alert reached you instead: please pass it on, "
            f"and add their address in the admin.\n\n{body}",
        )
        text = f"{name} has no email address; the new-lead alert was {_told(told)}."
    LeadEvent.objects.bulk_create([LeadEvent(lead=lead, kind=LeadEvent.Kind.ALERT_SENT, text=text) for lead in leads])
    return True


def _handed_over_line(lead: Lead) -> str:
    """What the new assignee of a lead handed over needs first: by whom (from its timeline), how old it is,
    and whether someone has already called."""
    change = (
        lead.events.filter(kind__in=[LeadEvent.Kind.ASSIGNEE_CHANGED, LeadEvent.Kind.REASSIGNED])
        .select_related("actor")
        .order_by("-at", "-id")
        .first()
    )
    if change is not None and change.kind == LeadEvent.Kind.REASSIGNED:
        how = "This lead was handed to you, as nobody contacted it in time"
    elif change is not None and change.actor is not None:
        how = f"{change.actor.get_username()} handed this lead to you"
    else:  # handed over by someone whose account is gone since
        how = "This lead was handed to you"
    came = timezone.localtime(lead.received_at).strftime("%d %b %Y at %H:%M")
    if lead.first_contacted_at is None:
        next_step = "nobody has called yet, so call within minutes"
    else:
        next_step = "read its notes and timeline before you call"
    return f"{how}. It came in on {came} IST and is {lead.get_status_display()}: {next_step}."


def nobody_on_duty_alert_send(*, lead_id: int) -> int:
    """Tell the Sales managers (else ADMINS) that a lead arrived with nobody on duty; returns how many were told."""
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        return 0
    context = lead_email_context(lead)
    subject = _one_line("Nobody in Sales is on duty: new leads stay unassigned")
    body = render_to_string("leads/email/nobody_on_duty.txt", context)
    told = _mail_managers(subject, body)
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.ALERT_SENT, text=f"Nobody on duty: alert {_told(told)}.")
    return len(told)


def overdue_alert_send(*, lead_ids: list[int]) -> int:
    """Tell the Sales managers (else ADMINS) which leads nobody contacted within the SLA; one email per batch.

    Each lead's timeline records it. Returns how many leads the email named. With nobody to tell (no manager
    has an email address and ADMINS is empty) the leads are handed back to the periodic job, which tells the
    first manager given an address: an escalation that reaches nobody is not one.
    """
    leads = list(Lead.objects.filter(pk__in=lead_ids).select_related("assignee").order_by("received_at"))
    if not leads:
        return 0
    context = {
        "minutes": settings.LEAD_FIRST_CONTACT_MINUTES,
        "leads": [lead_email_context(lead) for lead in leads],
    }
    subject = _one_line(
        f"{len(leads)} lead{'s' if len(leads) != 1 else ''} not contacted within "
        f"{settings.LEAD_FIRST_CONTACT_MINUTES} business minutes"
    )
    body = render_to_string("leads/email/overdue_leads.txt", context)
    told = _mail_managers(subject, body)
    if not told:
        sla.overdue_alert_release([lead.pk for lead in leads])
        logger.warning("%d overdue leads: %s; the next escalation run tries again", len(leads), _told(told))
        return 0
    LeadEvent.objects.bulk_create(
        [LeadEvent(lead=lead, kind=LeadEvent.Kind.OVERDUE, text=f"Overdue: {_told(told)}.") for lead in leads]
    )
    return len(leads)


def previous_assignee_alert_send(*, lead_id: int, user_id: int, handed_by: str = "") -> bool:
    """Tell the salesperson a lead was taken from them: it went uncontacted, or ``handed_by`` someone on the
    lead page. False when there is nobody to tell."""
    lead = Lead.objects.select_related("assignee").filter(pk=lead_id).first()
    previous = get_user_model().objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if lead is None or previous is None or lead.assignee_id == user_id:  # handed back to them meanwhile
        return False
    _lead_email_send(
        lead,
        to=previous.email,
        subject=f"Lead reassigned: {lead.name}",
        template="leads/email/lead_reassigned.txt",
        context={"minutes": settings.LEAD_REASSIGN_AFTER_MINUTES, "handed_by": handed_by},
        kind=LeadEvent.Kind.ALERT_SENT,
        what="Reassignment notice",
    )
    return True


def follow_up_alert_send(*, lead_id: int, user_id: int, due_at: str) -> bool:
    """Email the salesperson that the follow-up they set for ``due_at`` has come; False when it no longer stands
    (moved, cleared or the lead handed on since) or they have no address."""
    lead = Lead.objects.select_related("assignee").filter(pk=lead_id, assignee_id=user_id).first()
    if lead is None or lead.next_follow_up_at is None or lead.next_follow_up_at.isoformat() != due_at:
        return False
    assignee = lead.assignee
    if assignee is None or not assignee.email:
        return False
    _lead_email_send(
        lead,
        to=assignee.email,
        subject=f"Follow-up due: {lead.name}, {lead.car_model or 'no model'}",
        template="leads/email/follow_up_due.txt",
        context={"due": ist_datetime(lead.next_follow_up_at)},
        kind=LeadEvent.Kind.FOLLOW_UP,
        what="Follow-up reminder",
    )
    return True


def _lead_email_send(
    lead: Lead, *, to: str, subject: str, template: str, context: dict[str, Any], kind: str, what: str
) -> None:
    """One email to one person about one lead, and the timeline line that says it went."""
    EmailMultiAlternatives(
        subject=_one_line(f"{settings.EMAIL_SUBJECT_PREFIX}{subject}"),
        body=render_to_string(template, {**lead_email_context(lead), **context}),
        to=[to],
    ).send()
    LeadEvent.objects.create(lead=lead, kind=kind, text=f"{what} emailed to {to}.")


def _mail_managers(subject: str, body: str) -> list[str]:
    """Email the Sales managers, or the site ADMINS when no manager has an address; returns who was emailed."""
    if managers := _managers():
        EmailMultiAlternatives(subject=settings.EMAIL_SUBJECT_PREFIX + subject, body=body, to=managers).send()
        return managers
    mail_admins(subject, body, fail_silently=False)  # sends nothing when ADMINS is empty
    return [address for _name, address in settings.ADMINS]


def _told(addresses: list[str]) -> str:
    """Who an alert reached, for the timeline: it never claims a send that did not happen."""
    if addresses:
        return "emailed to " + ", ".join(addresses)
    return "not emailed: no Sales manager has an email address and ADMINS is empty"


def _managers() -> list[str]:
    return list(managers().exclude(email="").values_list("email", flat=True))


def lead_email_context(lead: Lead) -> dict[str, Any]:
    digits = lead.phone_digits if lead.phone_valid else ""
    return {
        "lead": lead,
        # What the email shows of the partner's text, each on one line whenever it was stored (leads.common.text).
        "name": one_line(lead.name),
        "car_model": one_line(lead.car_model),
        "campaign": one_line(lead.campaign),
        "received": ist_datetime(lead.received_at),
        "tel_url": f"tel:+{digits}" if digits else "",
        "whatsapp_url": f"https://wa.me/{digits}" if digits else "",
        "admin_url": settings.PUBLIC_BASE_URL.rstrip("/") + reverse("admin:leads_lead_change", args=[lead.pk]),
    }


def _one_line(text: str) -> str:
    # A header with a line break would be refused (or worse): a partner's name must not end the subject.
    return one_line(text)[:200]
