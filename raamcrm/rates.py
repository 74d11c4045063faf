"""Rates such as ``120/m``: how many hits a window allows, and how long the window is.

The one parser for every rate setting: ``raamcrm.env.env_rate`` checks them at start-up and
``raamcrm.limits`` counts with them (and hands them to django-ratelimit as ``(limit, seconds)``).
The syntax is django-ratelimit's, ``count/[multiplier]unit`` (``120/m``, ``10/s``, ``100/5m``), except
that the unit is required. The settings module imports this one, so it must not import Django's settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

UNIT_SECONDS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
_RATE = re.compile(r"(\d+)/(\d*)([smhd])", re.ASCII | re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int


@lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate:
    """The rate ``text`` describes; ValueError when it is not one."""
    match = _RATE.fullmatch(text.strip())
    seconds = int(match[2] or 1) * UNIT_SECONDS[match[3].lower()] if match else 0
    if match is None or seconds == 0:  # no match, or a window of 0 units
        raise ValueError(f"{text!r} is not a rate like 120/m, 10/s or 1000/h")
    return Rate(limit=int(match[1]), seconds=seconds)
