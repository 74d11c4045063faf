from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads.models import Delivery, Lead
from leads.ops.privacy import raw_data_expire


class Command(BaseCommand):
    help = (
        "The nightly prune. Delete delivery-ledger rows older than N days, in batches (except a duplicate's row that "
        "keeps a partner lead id, while its lead is there), and test leads (from staging "
        "keys) older than LEAD_TEST_PRUNE_AFTER_DAYS; blank the raw payloads and ledger bodies older than "
        "LEAD_PAYLOAD_RETENTION_DAYS. Real leads and their mapped fields are never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=int, default=settings.LEAD_PRUNE_AFTER_DAYS)
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, older_than_days: int, batch_size: int, **options: Any) -> None:
        if older_than_days < 1:
            raise CommandError("--older-than-days must be at least 1; the ledger of today is never pruned.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - timedelta(days=older_than_days)
        deleted = _delete_in_batches(Delivery.objects.prunable(before=cutoff), batch_size=batch_size)
        test_cutoff = timezone.now() - timedelta(days=settings.LEAD_TEST_PRUNE_AFTER_DAYS)
        # Their ledger rows stay (lead set to NULL) until they age out with the rest.
        test_leads = _delete_in_batches(
            Lead.objects.filter(is_test=True, received_at__lt=test_cutoff), batch_size=batch_size
        )
        retention = settings.LEAD_PAYLOAD_RETENTION_DAYS
        payloads, bodies = raw_data_expire(
            received_before=timezone.now() - timedelta(days=retention), batch_size=batch_size
        )
        self.stdout.write(
            f"Deleted {deleted} deliveries older than {older_than_days} days and {test_leads} test leads older "
            f"than {settings.LEAD_TEST_PRUNE_AFTER_DAYS} days; blanked {payloads} lead payloads and {bodies} ledger "
            f"bodies older than {retention} days; real leads kept."
        )


def _delete_in_batches(rows: QuerySet[Any], *, batch_size: int) -> int:
    """Delete ``rows`` a batch at a time: small transactions keep locks short while webhooks keep writing."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(rows.values_list("id", flat=True)[:batch_size])
            if not ids:
                return deleted
            rows.model.objects.filter(id__in=ids).delete()
            deleted += len(ids)
