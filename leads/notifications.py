"""The emails the queue sends about leads, through Django's email backend (SMTP providers plug in by settings).

Everything a partner sent is a stranger's text: the HTML part is rendered with autoescaping, links are
built only from the normalised phone's digits and our own URLs, and subjects lose their line breaks.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, mail_admins
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from leads.assignment import MANAGERS_GROUP, nobody_on_duty_alert_claim
from leads.models import Lead, LeadEvent


def new_lead_alert_send(*, lead_id: int) -> None:
    """A new real lead's alert (leads.ingest queues it with the lead): to its assignee, else the Sales managers.

    With nobody on duty the managers hear of it once per gap (leads.assignment); the claim rolls back
    with a send that fails, so the retry claims it again.
    """
    lead = Lead.objects.filter(pk=lead_id).only("assignee").first()
    if lead is None:
        return
    if lead.assignee_id is not None:
        assignee_alert_send(lead_id=lead_id)
        return
    with transaction.atomic():
        if nobody_on_duty_alert_claim(lead):
            nobody_on_duty_alert_send(lead_id=lead_id)


def assignee_alert_send(*, lead_id: int) -> bool:
    """Email the lead's assignee that it is theirs; record the send on the lead's timeline.

    Returns False when there is nobody to tell (lead gone, unassigned, or an assignee without an email).
    A mail server that refuses or is down raises, and the queue retries with backoff.
    """
    lead = Lead.objects.select_related("assignee").filter(pk=lead_id).first()
    if lead is None or lead.assignee is None or not lead.assignee.email:
        return False
    context = lead_email_context(lead)
    message = EmailMultiAlternatives(
        subject=_one_line(f"{settings.EMAIL_SUBJECT_PREFIX}New lead: {lead.name}, {lead.car_model or 'no model'}"),
        body=render_to_string("leads/email/new_lead.txt", context),
        to=[lead.assignee.email],
    )
    message.attach_alternative(render_to_string("leads/email/new_lead.html", context), "text/html")
    message.send()
    LeadEvent.objects.create(
        lead=lead, kind=LeadEvent.Kind.ALERT_SENT, text=f"New-lead alert emailed to {lead.assignee.email}."
    )
    return True


def nobody_on_duty_alert_send(*, lead_id: int) -> int:
    """Tell the Sales managers (else ADMINS) that a lead arrived with nobody on duty; returns how many were told."""
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        return 0
    context = lead_email_context(lead)
    subject = _one_line("Nobody in Sales is on duty: new leads stay unassigned")
    body = render_to_string("leads/email/nobody_on_duty.txt", context)
    managers = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=MANAGERS_GROUP)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if managers:
        EmailMultiAlternatives(subject=settings.EMAIL_SUBJECT_PREFIX + subject, body=body, to=managers).send()
    else:
        mail_admins(subject, body, fail_silently=False)
    LeadEvent.objects.create(
        lead=lead,
        kind=LeadEvent.Kind.ALERT_SENT,
        text=f"Nobody on duty: alert emailed to {', '.join(managers) or 'the site admins'}.",
    )
    return len(managers) or len(settings.ADMINS)


def overdue_alert_send(*, lead_ids: list[int]) -> int:
    """Tell the Sales managers (else ADMINS) which leads nobody contacted within the SLA; one email per batch.

    Each lead's timeline records it. Returns how many leads the email named.
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
    managers = _managers()
    if managers:
        EmailMultiAlternatives(subject=settings.EMAIL_SUBJECT_PREFIX + subject, body=body, to=managers).send()
    else:
        mail_admins(subject, body, fail_silently=False)
    told = ", ".join(managers) or "the site admins"
    LeadEvent.objects.bulk_create(
        [LeadEvent(lead=lead, kind=LeadEvent.Kind.OVERDUE, text=f"Overdue: emailed to {told}.") for lead in leads]
    )
    return len(leads)


def previous_assignee_alert_send(*, lead_id: int, user_id: int) -> bool:
    """Tell the salesperson a lead was taken from them (it went uncontacted); False when there is nobody to tell."""
    lead = Lead.objects.select_related("assignee").filter(pk=lead_id).first()
    previous = get_user_model().objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if lead is None or previous is None:
        return False
    context = {**lead_email_context(lead), "minutes": settings.LEAD_REASSIGN_AFTER_MINUTES}
    EmailMultiAlternatives(
        subject=_one_line(f"{settings.EMAIL_SUBJECT_PREFIX}Lead reassigned: {lead.name}"),
        body=render_to_string("leads/email/lead_reassigned.txt", context),
        to=[previous.email],
    ).send()
    LeadEvent.objects.create(
        lead=lead, kind=LeadEvent.Kind.ALERT_SENT, text=f"Reassignment notice emailed to {previous.email}."
    )
    return True


def _managers() -> list[str]:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=MANAGERS_GROUP)
        .exclude(email="")
        .values_list("email", flat=True)
    )


def lead_email_context(lead: Lead) -> dict[str, Any]:
    digits = lead.phone_digits if lead.phone_valid else ""
    return {
        "lead": lead,
        "tel_url": f"tel:+{digits}" if digits else "",
        "whatsapp_url": f"https://wa.me/{digits}" if digits else "",
        "admin_url": settings.PUBLIC_BASE_URL.rstrip("/") + reverse("admin:leads_lead_change", args=[lead.pk]),
    }


def _one_line(text: str) -> str:
    # A header with a line break would be refused (or worse): a partner's name must not end the subject.
    return " ".join(text.split())[:200]
