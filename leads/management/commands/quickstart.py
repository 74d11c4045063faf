import json
import shlex

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from leads.keys import api_key_create
from leads.models import ApiKey
from leads.partners import PARTNERS

QUICKSTART_LABEL = "quickstart"


class Command(BaseCommand):
    help = "For a local SQLite copy only: issue throwaway partner keys and print a working curl for each endpoint."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url: str, **options):
        if connection.vendor != "sqlite":
            raise CommandError("quickstart only runs on the local SQLite default; it would hand out keys elsewhere.")
        ApiKey.objects.filter(label=QUICKSTART_LABEL, revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.stdout.write("Send a first lead (the guide's own samples):\n")
        for partner in PARTNERS:
            issued = api_key_create(partner=partner, label=QUICKSTART_LABEL)
            command = (
                f"curl -i -X POST {base_url}{partner.path} \\\n"
                f"  -H 'Content-Type: application/json' \\\n"
                f"  -H {shlex.quote('X-API-Key: ' + issued.secret)} \\\n"
                f"  -d {shlex.quote(json.dumps(dict(partner.sample)))}"
            )
            self.stdout.write(f"# {partner.name}\n{command}\n")
        self.stdout.write(f"Quick-start keys issued for {len(PARTNERS)} partners; earlier quick-start keys revoked.")
