"""The partner registry: who may send us leads, and how their fields are named.

Plain Python on purpose: settings, views, the schema, the printable guide and the
tests all read this one table, so the guide (§4, §5) and the code cannot drift.
Aliases are listed in the guide's priority order; the first one holding a
non-blank value wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Where the webhooks live: the guide's paths (§4), and a stable /v1/ alias (§9).
GUIDE_PREFIX = "admin/mg-digital-leads/source"
V1_PREFIX = "v1/leads"
# Every prefix the webhooks answer under, by the name their URL patterns carry.
WEBHOOK_PREFIXES = {"guide": GUIDE_PREFIX, "v1": V1_PREFIX}

REQUIRED_FIELDS: tuple[str, ...] = ("name", "phone_number")
LEAD_FIELDS: tuple[str, ...] = ("name", "phone_number", "car_model", "lead_url", "campaign", "partner_lead_id")
# The partner's own id for a lead, under the names senders commonly use. Not in the guide; when one is
# present (or an Idempotency-Key header), resends of that id are one lead for good. A bare "id" is not one:
# it may name a dealer, an ad or a campaign, and a returning buyer's new enquiry would be taken for a resend.
PARTNER_LEAD_ID_ALIASES: tuple[str, ...] = ("lead_id", "leadId", "enquiry_id")

# Not in the guide: names integrators commonly give these fields, read after the guide's own aliases (issue 24).
# Every alias is matched ignoring case and separators (leads.intake.aliases.spelling), so `Mobile No.` is
# `mobile_no` and `CustomerName` is `customer_name`.
COMMON_SPELLINGS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "name": ("full_name",),
        "phone_number": ("mobile_no", "mobile_number", "contact_no", "customer_mobile"),
    }
)
# With no name field, the name is the first name and the last name, each under any of these (either may be absent).
FIRST_NAME_ALIASES: tuple[str, ...] = ("first_name", "fname")
LAST_NAME_ALIASES: tuple[str, ...] = ("last_name", "lname")
# With no name or phone among the body's own fields, one object under one of these (or a list of just one) is read
# as the lead: {"lead": {...}}, {"data": [{...}]}, and the form keys lead[name], data[phone_number].
WRAPPER_KEYS: tuple[str, ...] = ("lead", "data", "enquiry", "customer", "contact")
# A phone sent as an object: its number under one of these, and a country calling code under one of those.
PHONE_NUMBER_KEYS: tuple[str, ...] = ("number", "phone", "phone_number", "mobile", "national_number")
PHONE_CODE_KEYS: tuple[str, ...] = ("country_code", "code", "dial_code", "calling_code")


@dataclass(frozen=True)
class Partner:
    slug: str
    name: str
    aliases: Mapping[str, tuple[str, ...]]
    sample: Mapping[str, object] = field(default_factory=dict)

    @property
    def accepted_aliases(self) -> Mapping[str, tuple[str, ...]]:
        """Each field's aliases as read: the guide's (``aliases``, its §5 table), then the common spellings."""
        return MappingProxyType(
            {
                field: guide + tuple(a for a in COMMON_SPELLINGS.get(field, ()) if a not in guide)
                for field, guide in self.aliases.items()
            }
        )

    @property
    def success_message(self) -> str:
        return f"{self.name} lead inserted successfully"

    @property
    def path(self) -> str:
        return f"/{GUIDE_PREFIX}/{self.slug}"

    @property
    def v1_path(self) -> str:
        return f"/{V1_PREFIX}/{self.slug}"


CARDEKHO = Partner(
    slug="cardekho",
    name="CarDekho",
    aliases=MappingProxyType(
        {
            "name": ("name", "customer_name", "contact_name"),
            "phone_number": ("phone_number", "mobile", "phone"),
            "car_model": ("car_model", "vehicle_model", "model"),
            "lead_url": ("lead_url", "page_url", "lead_detail_url"),
            "campaign": ("campaign",),
            "partner_lead_id": PARTNER_LEAD_ID_ALIASES,
        }
    ),
    sample=MappingProxyType(
        {
            "name": "Ravi Kumar",
            "phone_number": "9876543210",
            "car_model": "Tata Nexon EV",
            "lead_url": "https://cardekho.com/leads/123",
            "campaign": "EV Awareness Q4",
            "utm_source": "cardekho_ads",
        }
    ),
)

CARWALE = Partner(
    slug="carwale",
    name="CarWale",
    aliases=MappingProxyType(
        {
            "name": ("customer_name", "name", "contact_name"),
            "phone_number": ("mobile", "phone_number", "phone"),
            "car_model": ("vehicle_model", "car_model", "model"),
            "lead_url": ("page_url", "lead_url", "url"),
            "campaign": ("campaign",),
            "partner_lead_id": PARTNER_LEAD_ID_ALIASES,
        }
    ),
    sample=MappingProxyType(
        {
            "customer_name": "Sunita Rao",
            "mobile": "9123456780",
            "vehicle_model": "Hyundai Creta",
            "page_url": "https://carwale.com/lead/456",
            "campaign": "Creta Test Drive",
        }
    ),
)

PARTNERS: tuple[Partner, ...] = (CARDEKHO, CARWALE)
BY_SLUG: Mapping[str, Partner] = MappingProxyType({p.slug: p for p in PARTNERS})


def get_partner(slug: str) -> Partner | None:
    return BY_SLUG.get(slug.strip().lower())


def get_partner_by_name(name: str) -> Partner | None:
    """The partner a ``platform`` column names (guide §5)."""
    return next((partner for partner in PARTNERS if partner.name == name), None)


# Not a partner: a buyer who walked in or phoned, added by staff in the admin (leads.intake.walk_in). Its leads go
# through the same store as a partner's (dedupe, assignment, timeline) under their own platform, "Walk-in".
WALK_IN = Partner(
    slug="walk_in",
    name="Walk-in",
    aliases=MappingProxyType({name: (name,) for name in LEAD_FIELDS}),
)
