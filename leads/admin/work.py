"""The lead page's work: the form a salesperson saves (a call's outcome, the next follow-up, a note, the
dealership's fields), the Call and WhatsApp links, and the reassign list's labels."""

from __future__ import annotations

import copy
from typing import Any, cast
from urllib.parse import quote

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.http import QueryDict

from leads.admin.timeline import FOLLOW_UP_FIELDS, LeadChangedMeanwhile, follow_up_check, follow_up_seen
from leads.common.names import has_devanagari
from leads.models import CallAttempt, Lead, SalesProfile
from leads.sales.assignment import CLOSED_STATUSES

# The outcomes a salesperson picks after a call (a tap on Call or WhatsApp is logged by itself).
OUTCOME_CHOICES = [("", "No call to record"), *((o.value, o.label) for o in CallAttempt.Outcome if o != "tapped")]


class LeadForm(forms.ModelForm):
    """The lead page's form; it carries what the page showed, so a stale page cannot undo newer work, and
    what was typed survives a save that cannot apply (shown back, or the note kept)."""

    follow_up_seen = forms.CharField(widget=forms.HiddenInput, required=False)
    call_outcome = forms.ChoiceField(label="Call outcome", choices=OUTCOME_CHOICES, required=False)
    new_note = forms.CharField(
        label="Add a note", required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "lead-new-note"})
    )
    move_other_leads = forms.BooleanField(
        label="Also hand over this buyer's other open leads (same phone)", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["follow_up_seen"].initial = follow_up_seen(self.instance)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is None:
            return cleaned
        if cleaned.get("call_outcome") in CallAttempt.NOT_REACHED and not cleaned.get("next_follow_up_at"):
            self.add_error("next_follow_up_at", "The call did not reach the buyer: set when to try again.")
        if cleaned.get("status") == Lead.Status.LOST and not cleaned.get("lost_reason"):
            self.add_error("lost_reason", "Say why the lead was lost.")
        seen = cleaned.get("follow_up_seen")
        if not seen:  # a page from before this check, or not from the lead page at all
            raise forms.ValidationError("This page is out of date. Nothing was saved: open the lead again.")
        # What this save would leave: the same form sent twice (a double tap) finds it there already.
        saving = copy.copy(self.instance)
        for name in FOLLOW_UP_FIELDS:
            if name in cleaned:
                setattr(saving, name, cleaned[name])
        # The admin's change view is one transaction, so the row stays locked from this check to the save.
        try:
            follow_up_check(self.instance, seen, saving=saving)
        except LeadChangedMeanwhile as changed:
            # The form comes back with everything typed; it now carries the lead as it is, so Save applies it.
            data = QueryDict(mutable=True)
            for key in self.data:
                data.setlist(key, cast(QueryDict, self.data).getlist(key))
            data[self.add_prefix("follow_up_seen")] = changed.current
            self.data = data
            raise forms.ValidationError(str(changed)) from None
        return cleaned


def whatsapp_url(lead: Lead) -> str:
    """wa.me with a first message in the buyer's name and car, in Hindi when the name is written in Devanagari."""
    digits = lead.phone_digits if lead.phone_valid else ""
    if not digits:
        return ""
    car = lead.car_model or ("कार" if has_devanagari(lead.name) else "car")
    if has_devanagari(lead.name):
        text = f"नमस्ते {lead.name} जी, आपकी {car} की पूछताछ के बारे में हमारे शोरूम से संपर्क कर रहे हैं।"
    else:
        text = f"Hello {lead.name}, this is the showroom about your enquiry for the {car}."
    return f"https://wa.me/{digits}?text={quote(text)}"


def tel_url(lead: Lead) -> str:
    return f"tel:{lead.phone_e164}" if lead.phone_e164 else ""


class AssigneeChoiceField(forms.ModelChoiceField):
    """The reassign list: each person with their on-duty state and open leads, read once for the list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._load()

    def _load(self) -> None:
        users = get_user_model().objects.filter(pk__in=self.queryset.values("pk"))  # type: ignore[union-attr]
        self.open_counts = dict(
            users.annotate(
                n=Count(
                    "assigned_leads",
                    filter=Q(assigned_leads__is_test=False) & ~Q(assigned_leads__status__in=CLOSED_STATUSES),
                )
            ).values_list("pk", "n")
        )
        self.off_duty = set(SalesProfile.objects.filter(on_duty=False).values_list("user_id", flat=True))

    def label_from_instance(self, obj: Any) -> str:
        duty = "off duty" if obj.pk in self.off_duty else "on duty"
        return f"{obj.get_username()} · {duty} · {self.open_counts.get(obj.pk, 0)} open"


class WalkInForm(forms.ModelForm):
    """The short form for a buyer who walked in or phoned: who, which phone, which car, and a first note."""

    new_note = forms.CharField(label="First note", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = Lead
        fields = ["name", "phone_number", "car_model"]
        labels = {"phone_number": "Phone", "car_model": "Car model"}

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError("Give the buyer's name.")
        return name
