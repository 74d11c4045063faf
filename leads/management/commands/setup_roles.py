from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from leads.sales.permissions import ROLE_PERMISSIONS


class Command(BaseCommand):
    help = (
        'Create or reset the "Sales" and "Sales managers" groups with exactly their permissions. '
        "Safe to run again. Add people to a group, and tick 'staff status', in the admin's Users screen."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        summary = []
        for name, codenames in ROLE_PERMISSIONS.items():
            permissions = list(Permission.objects.filter(content_type__app_label="leads", codename__in=codenames))
            if len(permissions) != len(codenames):
                raise CommandError("Lead permissions are missing; run `python manage.py migrate` first.")
            group, created = Group.objects.get_or_create(name=name)
            group.permissions.set(permissions)
            summary.append(f"{name} ({'created' if created else 'updated'}: {', '.join(sorted(codenames))})")
        self.stdout.write("Roles ready: " + "; ".join(summary) + ".")
