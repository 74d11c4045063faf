import json
import secrets
import shlex
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leads.common.phones import normalise_phone
from leads.intake.keys import api_key_create
from leads.models import ApiKey, Lead, SalesProfile
from leads.partners import CARDEKHO, CARWALE, PARTNERS
from leads.sales.permissions import SALES_GROUP

QUICKSTART_LABEL = "quickstart"
DEMO_USERNAME = "demo"
DEMO_EMAIL = "demo@localhost"
# Phones differ from the guide's samples, so the first curl makes a new lead, not a duplicate.
DEMO_LEADS = [
    (CARDEKHO, "Anil Kumar", "9811122233", "MG Windsor EV", "EV Awareness Q4", 0),
    (CARWALE, "Kavya Rao", "+91 91234 00001", "MG Hector", "Hector Test Drive", 1),
    (CARDEKHO, "Imran Shaikh", "09812345678", "MG Astor", "Diwali Offers", 2),
    (CARWALE, "Priya Nair", "91-98450-12345", "MG Comet EV", "EV Awareness Q4", 3),
    (CARDEKHO, "Priya Nair", "9845012345", "MG Comet EV", "Retargeting", 5),
    (CARWALE, "Arjun Mehta", "98200 11223", "MG Gloster", "Gloster Launch", 8),
]


class Command(BaseCommand):
    help = (
        "For a developer's machine only (DEBUG on, as `make run` sets): demo leads, a demo admin user and "
        "throwaway partner keys, then a working curl for each endpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "quickstart only runs with DEBUG on (as `make run` sets it); it would hand out keys and demo data."
            )
        call_command("setup_roles", stdout=self.stdout)
        self._demo_leads()
        self._demo_user(base_url)
        ApiKey.objects.filter(label=QUICKSTART_LABEL, revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.stdout.write("\nSend a first lead (the guide's own samples):")
        for partner in PARTNERS:
            issued = api_key_create(partner=partner, label=QUICKSTART_LABEL)
            command = (
                f"curl -i -X POST {base_url}{partner.path} \\\n"
                f"  -H 'Content-Type: application/json' \\\n"
                f"  -H {shlex.quote('X-API-Key: ' + issued.secret)} \\\n"
                f"  -d {shlex.quote(json.dumps(dict(partner.sample)))}"
            )
            self.stdout.write(f"# {partner.name}\n{command}")
        self.stdout.write(
            f"\nA posted lead is assigned to '{DEMO_USERNAME}' (on duty in Sales) and its alert email prints below."
        )
        self.stdout.write(
            f"\nQuick start ready: admin at {base_url}/admin/, partner guide at {base_url}/docs/integration/; "
            "earlier quick-start keys revoked."
        )

    def _demo_leads(self) -> None:
        if Lead.objects.exists():
            return
        now = timezone.now()
        for partner, name, phone, model, campaign, days_ago in DEMO_LEADS:
            normalised = normalise_phone(phone)
            Lead.objects.create(
                platform=partner.name,
                name=name,
                phone_number=phone,
                phone_e164=normalised.e164,
                phone_valid=normalised.valid,
                phone_digits=normalised.digits,
                car_model=model,
                campaign=campaign,
                payload={"name": name, "phone_number": phone, "car_model": model, "campaign": campaign, "demo": True},
                received_at=now - timedelta(days=days_ago, hours=days_ago),
            )
        self.stdout.write(f"Added {len(DEMO_LEADS)} demo leads.")

    def _demo_user(self, base_url: str) -> None:
        users = get_user_model()
        existing = users.objects.filter(username=DEMO_USERNAME).first()
        if existing:
            self._on_duty_in_sales(existing)
            self.stdout.write(
                f"Admin: sign in at {base_url}/admin/ as '{DEMO_USERNAME}' (password shown when it was made; "
                f"reset it with: python manage.py changepassword {DEMO_USERNAME})."
            )
            return
        password = secrets.token_urlsafe(12)
        self._on_duty_in_sales(users.objects.create_superuser(DEMO_USERNAME, email=DEMO_EMAIL, password=password))
        self.stdout.write(
            f"Admin: sign in at {base_url}/admin/ as '{DEMO_USERNAME}' with password {password} "
            "(shown this once; this local demo user is a superuser)."
        )

    def _on_duty_in_sales(self, user: Any) -> None:
        """The demo user works the leads, so a posted lead is assigned to them and its alert prints here."""
        user.groups.add(Group.objects.get(name=SALES_GROUP))
        if not user.email:
            user.email = DEMO_EMAIL
            user.save(update_fields=["email"])
        SalesProfile.objects.update_or_create(user=user, defaults={"on_duty": True})
