from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_otp import devices_for_user  # type: ignore[import-untyped]


class Command(BaseCommand):
    help = "Remove a user's two-factor devices (a lost phone), so they sign in with a password and can enrol again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the admin username, exactly as shown in Users")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise CommandError(f"No user is called {username!r}; check the spelling in the admin's Users.") from None
        with transaction.atomic():
            devices = list(devices_for_user(user, confirmed=None))
            for device in devices:
                device.delete()
        self.stdout.write(f"Removed {len(devices)} two-factor device(s) from {user.get_username()}.")
