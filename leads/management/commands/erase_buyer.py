from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.ops.privacy import NotAPhone, buyer_erase


class Command(BaseCommand):
    help = (
        "Erase a buyer on their request (DPDP): every lead with this phone, in any format, and the ledger rows "
        "that carried it keep their rows but lose the name, phone, payload, notes and partner ids; error texts and "
        "export filters naming the buyer are erased too. A keyed digest of the phone is kept, so replay_deliveries "
        "never stores them again from an earlier delivery. The request is recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("phone", help="the buyer's phone in any format, e.g. '+91 98765 43210' or 09876543210")
        parser.add_argument(
            "--requested-by", required=True, help="who asked and how to find it again: an email address or a ticket"
        )

    def handle(self, *args: Any, phone: str, requested_by: str, **options: Any) -> None:
        if not requested_by.strip():
            raise CommandError("--requested-by must say who asked: an email address or a ticket.")
        try:
            erased = buyer_erase(phone=phone, requested_by=requested_by.strip())
        except NotAPhone as exc:
            raise CommandError(str(exc)) from None
        r = erased.record
        if erased.nothing:
            self.stdout.write(
                f"Nothing to erase for {r.phone_masked}: no lead or ledger row holds it. "
                f"Recorded as erasure {r.pk}, requested by {r.requested_by} at {r.performed_at:%Y-%m-%d %H:%M} UTC."
            )
            return
        self.stdout.write(
            f"Erased {r.leads_erased} leads, {r.deliveries_erased} ledger rows, {r.log_entries_erased} admin log "
            f"entries and {r.exports_erased} export filters for {r.phone_masked}. Recorded as erasure {r.pk}, "
            f"requested by {r.requested_by} at {r.performed_at:%Y-%m-%d %H:%M} UTC."
        )
