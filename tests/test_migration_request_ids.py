"""Migration 0017: old ledger rows whose request id began "replay-of-" are replays only when they were ours."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from leads.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("leads", "0016_on_duty_switch_names"), ("leads", "0017_request_ids")


def migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([target])


def migrate_to_latest() -> None:
    """Back to every app's newest migration, where the other tests expect the schema (later ones too)."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def insert(request_id: str, *, replayed: bool = False, platform: str = "CarDekho") -> int:
    """A ledger row as the code before the migration wrote it, through that migration state's own model."""
    old_delivery = MigrationExecutor(connection).loader.project_state(BEFORE).apps.get_model("leads", "Delivery")
    row = old_delivery.objects.create(
        platform=platform,
        key_prefix="env",
        status_code=201,
        outcome="created",
        request_id=request_id,
        replayed_at=timezone.now() if replayed else None,
    )
    return row.pk


def test_only_our_replays_are_marked_and_a_partners_own_id_is_kept_as_theirs():
    migrate(BEFORE)
    try:
        original = insert("0" * 32, replayed=True)
        ours = insert(f"replay-of-{original}")
        never_replayed = insert("f" * 32)
        forged = insert(f"replay-of-{never_replayed}")
        theirs = insert("partner-req-12345")
        # Another partner naming a delivery that was replayed: not our replay either.
        other_partners = insert(f"replay-of-{original}", platform="CarWale")
        migrate(AFTER)
    finally:
        migrate_to_latest()

    rows = {row.pk: row for row in Delivery.objects.all()}
    assert [rows[pk].is_replay for pk in (original, ours, never_replayed, forged, theirs, other_partners)] == [
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert rows[forged].partner_request_id == f"replay-of-{never_replayed}"
    assert rows[theirs].partner_request_id == "partner-req-12345"
    assert rows[original].partner_request_id == ""
