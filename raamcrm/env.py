"""Small, loud readers for environment variables.

Every setting that comes from the environment goes through one of these, so a
typo in a deploy ("DEBUG=ture", "LEAD_MAX_BODY_BYTES=64k") stops the process at
start-up instead of quietly running with a default. Each name read is recorded
in ``READ`` so a test can check that ``render.yaml`` declares all of them.
"""

from __future__ import annotations

import os
from typing import overload

from django.core.exceptions import ImproperlyConfigured

from raamcrm.rates import parse_rate

READ: set[str] = set()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    READ.add(name)
    value = os.environ.get(name)
    return None if value is None else value.strip()


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return value if value else default


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


def env_choice(name: str, default: str, *, choices: tuple[str, ...]) -> str:
    """One of ``choices``, in any case (``info`` is ``INFO``)."""
    value = env_str(name, default).upper()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if not value:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A rate such as ``120/m`` (raamcrm.rates), checked here rather than on the first request."""
    value = env_str(name, default)
    try:
        parse_rate(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate like 120/m, 10/s or 1000/h.") from None
    return value


def env_first(*names: str) -> str | None:
    """The value of the first of several alias names that is set; they must agree if several are."""
    values = {name: env_str(name) for name in names}
    present = {name: value for name, value in values.items() if value}
    if len(set(present.values())) > 1:
        raise ImproperlyConfigured(f"{' and '.join(present)} are aliases but hold different values; set only one.")
    return next(iter(present.values()), None)
