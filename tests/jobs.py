"""Running queued jobs in a test, as the worker would."""

from __future__ import annotations

import time

from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob


def run_queued_jobs() -> None:
    """Do what the worker would: run every job waiting in the queue, in order, with its context if it asks."""
    for job in ProcrastinateJob.objects.filter(status="todo").order_by("id"):
        task = app.tasks[job.task_name]
        if task.pass_context:
            context = JobContext(
                app=app, job=job.procrastinate_job, start_timestamp=time.time(), abort_reason=lambda: None
            )
            task(context, **job.args)
        else:
            task(**job.args)
        ProcrastinateJob.objects.filter(pk=job.pk).update(status="succeeded")
