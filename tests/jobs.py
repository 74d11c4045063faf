"""Running queued jobs in a test, as the worker would."""

from __future__ import annotations

from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob


def run_queued_jobs() -> None:
    """Do what the worker would: run every job waiting in the queue, in order."""
    for job in ProcrastinateJob.objects.filter(status="todo").order_by("id"):
        app.tasks[job.task_name](**job.args)
        ProcrastinateJob.objects.filter(pk=job.pk).update(status="succeeded")
