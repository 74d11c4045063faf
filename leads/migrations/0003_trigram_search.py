"""Trigram indexes so the admin's substring searches (phone digits, name, car model, campaign) use an
index instead of scanning every lead (pg_trgm ships with PostgreSQL, the embedded one included)."""

from django.db import migrations

INDEXES = {
    "lead_phone_digits_trgm": "phone_digits gin_trgm_ops",
    "lead_name_trgm": "UPPER(name) gin_trgm_ops",
    "lead_car_model_trgm": "UPPER(car_model) gin_trgm_ops",
    "lead_campaign_trgm": "UPPER(campaign) gin_trgm_ops",
}


def create(apps, schema_editor):
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON leads_lead USING gin ({expression})")


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("leads", "0002_sales_follow_up")]

    operations = [migrations.RunPython(create, drop)]
