"""Partner API keys: issue, rotate, revoke, and check a presented key.

A key looks like ``raam_1a2b3c4d_<43 url-safe characters>``. The prefix finds the row; the
whole key is stored only as a SHA-256 digest. A slow password hasher would add nothing: the
secret has 256 bits of entropy, so there is nothing to guess, and every webhook pays for the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from leads.models import ENVIRONMENT_PREFIX, ApiKey
from leads.partners import Partner

KEY_TAG = "raam"
PREFIX_LENGTH = 8  # hex characters that name a database key: raam_<prefix>_<secret>
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a rotated-out key may keep working: the command's --grace-hours and the admin's form both stop here.
MAX_GRACE_HOURS = 365 * 24


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # the only time the full key exists outside the partner's hands


@dataclass(frozen=True)
class KeyMatch:
    prefix: str  # ENVIRONMENT_PREFIX for an environment key
    # A database key's row, for the lead's own transaction to confirm it still works (leads.intake.store):
    # a key verified a few seconds ago in this process is not looked up again (see below).
    api_key_id: int | None = None
    is_test: bool = False  # a staging key: its leads are marked as tests


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def claimed_prefix(key: str) -> str:
    """The prefix a presented key claims, for the ledger; "" when it is not one of our keys."""
    tag, _, rest = key.partition("_")
    prefix, sep, _ = rest.partition("_")
    if tag != KEY_TAG or not sep or len(prefix) != PREFIX_LENGTH:
        return ""
    return prefix


def api_key_create(
    *,
    partner: Partner,
    label: str = "",
    expires_at: datetime | None = None,
    now: datetime | None = None,
    is_test: bool = False,
) -> IssuedKey:
    now = now or timezone.now()
    for _ in range(5):
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        secret = f"{KEY_TAG}_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    partner=partner.slug,
                    prefix=prefix,
                    digest=digest(secret),
                    label=label,
                    created_at=now,
                    expires_at=expires_at,
                    is_test=is_test,
                )
        except IntegrityError:  # a prefix collision, one in four billion; draw again
            continue
        return IssuedKey(api_key=api_key, secret=secret)
    raise RuntimeError("Could not draw an unused key prefix.")


@transaction.atomic
def api_key_rotate(*, partner: Partner, grace: timedelta, label: str = "") -> tuple[IssuedKey, int]:
    """Issue a new key and schedule every other working production key of the partner to stop after ``grace``.

    Returns the new key and how many old keys were scheduled. A key already due to stop
    sooner keeps its earlier end.
    """
    now = timezone.now()
    ends_at = now + grace
    retiring = (
        ApiKey.objects.select_for_update()
        .filter(partner=partner.slug, is_test=False)
        .active(at=now)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=ends_at))
    )
    scheduled = retiring.update(revoked_at=ends_at)
    issued = api_key_create(partner=partner, label=label, now=now)
    return issued, scheduled


def api_key_revoke(*, prefix: str) -> ApiKey | None:
    now = timezone.now()
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().filter(prefix=prefix.strip().lower()).first()
        if api_key is None:
            return None
        if api_key.revoked_at is None or api_key.revoked_at > now:
            api_key.revoked_at = now
            api_key.save(update_fields=["revoked_at"])
    return api_key


# Keys this process verified against the database in the last REVERIFY_AFTER_SECONDS, by partner
# and digest. A remembered key skips the lookup, a round trip on every lead, but never the check:
# the lead's transaction only writes while the key still works (leads.intake.store), so a
# revoked or rotated-out key stops at once in every process. Until a remembered key is looked up
# again, a request it sends that is refused for another reason (a bad body, the hard limit) is
# told that reason rather than 403; nothing is stored either way. Only keys that matched get in,
# so strangers cannot grow it.
REVERIFY_AFTER_SECONDS = 60.0
_recently_verified: dict[tuple[str, str], tuple[ApiKey, float]] = {}


def api_key_authenticate(*, partner: Partner, presented: str) -> KeyMatch | None:
    """The match for ``presented`` if it is a working key of ``partner``, else None.

    A database key this process verified recently is not looked up again, so what it stores must
    be confirmed where it is stored: pass ``api_key_id`` on to ``lead_ingest``.
    """
    presented_bytes = presented.encode("utf-8", "surrogatepass")
    env_key = settings.LEAD_API_KEYS.get(partner.slug)
    if env_key and hmac.compare_digest(presented_bytes, env_key.encode("utf-8")):
        return KeyMatch(prefix=ENVIRONMENT_PREFIX)

    prefix = claimed_prefix(presented)
    if not prefix:
        return None
    remembered = (partner.slug, digest(presented))
    api_key, verified_at = _recently_verified.get(remembered, (None, 0.0))
    if api_key is None or time.monotonic() - verified_at > REVERIFY_AFTER_SECONDS:
        api_key = ApiKey.objects.active().filter(prefix=prefix, partner=partner.slug).first()
        if api_key is None or not hmac.compare_digest(api_key.digest, remembered[1]):
            _recently_verified.pop(remembered, None)
            return None
        _recently_verified[remembered] = (api_key, time.monotonic())
    _touch(api_key, now=timezone.now())
    return KeyMatch(prefix=prefix, api_key_id=api_key.pk, is_test=api_key.is_test)


def api_key_forget(*, partner: Partner, presented: str) -> None:
    """Drop a key from this process's recently verified keys: its next request looks it up again."""
    _recently_verified.pop((partner.slug, digest(presented)), None)


def _touch(api_key: ApiKey, *, now: datetime) -> None:
    # At most one write per key per minute, however many requests and processes: the in-memory
    # check skips the query, and the conditional UPDATE lets only one racing process win.
    stale_before = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is not None and api_key.last_used_at > stale_before:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)
    ).update(last_used_at=now)
    api_key.last_used_at = now  # this process's copy, so it does not try again for a minute
