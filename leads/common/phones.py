from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_NON_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class NormalisedPhone:
    e164: str  # "" when the text could not be parsed as a phone number at all
    valid: bool
    digits: str  # digits of ``e164`` when there is one, else of the raw text


def normalise_phone(raw: str) -> NormalisedPhone:
    """Read an Indian phone number in any common format; never raises.

    ``+91 98765 43210``, ``09876543210``, ``91-98765-43210`` and ``9876543210`` all become
    ``+919876543210``. Something that is not a phone number still comes back, unparsed and
    marked invalid, because a lead with a mistyped phone is still a buyer.
    """
    text = raw.strip()
    digits_only = _NON_DIGITS.sub("", text)
    try:
        number = phonenumbers.parse(text, "IN")
    except phonenumbers.NumberParseException:
        return NormalisedPhone(e164="", valid=False, digits=digits_only[:32])
    if not phonenumbers.is_possible_number(number):
        return NormalisedPhone(e164="", valid=False, digits=digits_only[:32])
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return NormalisedPhone(e164=e164, valid=phonenumbers.is_valid_number(number), digits=e164[1:])
