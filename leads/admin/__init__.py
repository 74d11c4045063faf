"""The admin's screens. Django's admin autodiscovery imports this package, which registers them."""

from leads.admin import duty, leads, ops  # noqa: F401
