"""Gunicorn settings for Render and for the benchmarks; every value can be overridden by environment.

Partners give up after 10 seconds (guide §2), so a worker that takes longer is already useless
to them: the timeout sits below that, and a stuck worker is replaced instead of piling up.
"""

import gc

# The same loud readers as the settings: "GUNICORN_THREADS=four" stops start-up with the variable's name.
# (gunicorn reads WEB_CONCURRENCY itself too, before this file, so a malformed one fails in gunicorn first.)
from raamcrm.env import env_int

bind = f"0.0.0.0:{env_int('PORT', 8000, minimum=1)}"
# Render sets WEB_CONCURRENCY from the instance size; two per core is the classic sync default.
workers = env_int("WEB_CONCURRENCY", 2, minimum=1)
# gthread, but a request reaches a thread only once the whole of it has arrived; until then it waits
# on the worker's event loop, and is cut off after REQUEST_READ_DEADLINE seconds (5)
# (raamcrm/gunicorn_worker.py). Trickling clients therefore cost no thread, and 4 threads stay
# enough: they let a worker keep serving while one request waits on PostgreSQL. More threads would
# not have kept up with slow clients (64 tricklers need more than 64 threads, each keeping its own
# PostgreSQL connection for DATABASE_CONN_MAX_AGE).
worker_class = "raamcrm.gunicorn_worker.ReadDeadlineThreadWorker"
threads = env_int("GUNICORN_THREADS", 4, minimum=1)
# How many connections a worker holds at once, idle or still arriving. Each one still arriving may hold up
# to 128 KiB (raamcrm/gunicorn_worker.py), so this bounds a worker's buffers at 25 MiB; gunicorn's default
# of 1,000 would allow 125 MiB per worker on a 512 MB instance.
worker_connections = env_int("GUNICORN_WORKER_CONNECTIONS", 200, minimum=1)
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads connections
# across them. On one shared socket, whichever worker woke first accepted a burst of connections,
# and kept alive (as a proxy keeps them) they could all stay on that worker while the other idled
# (bench/RESULTS.md). A stopping worker closes its socket first, so the kernel stops queuing
# connections on it (raamcrm/gunicorn_worker.py). A single worker has nothing to balance, and it
# keeps the master's shared socket, which stays open while the worker is replaced.
reuse_port = workers > 1
timeout = env_int("GUNICORN_TIMEOUT", 8, minimum=1)
graceful_timeout = 20
keepalive = 5
# No recycling by request count (gunicorn's default). With a socket per worker, every stop has a
# moment (between its last accept and closing its socket) in which a new connection can be reset,
# and two workers recycled together leave the port closed. A worker is replaced only when it hangs
# past the timeout or dies; Render restarts an instance that outgrows its memory.
max_requests = 0
# Load the app once, in the master, and fork every worker from it (see when_ready). A replaced
# worker then starts at once: without this it imported Django again and its first request loaded
# the URLconf, CPU taken from the workers still serving leads. The workers also share those pages.
# A deploy starts a new master, so new code still takes effect.
preload_app = True
# Headers are small; cap them so a hostile client cannot make a worker buffer megabytes of them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Our own middleware logs one JSON line per request; gunicorn's access log would duplicate it.
accesslog = None
logger_class = "raamcrm.gunicorn_worker.NoAccessLogLogger"
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "raamcrm.logs.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}


def when_ready(server: object) -> None:
    """In the master, with the app loaded and before the first fork: do once what each worker's
    first lead would otherwise do. It opens no database or cache connection (those must not be
    shared across fork), then hides the lot from the garbage collector (see post_worker_init)."""
    from django.urls import resolve

    from leads.partners import PARTNERS
    from leads.common.phones import normalise_phone

    for partner in PARTNERS:
        resolve(partner.path)  # imports the URLconf, the views, DRF and the schema
    normalise_phone("+91 98765 43210")  # loads the phone metadata for India
    gc.freeze()


def post_worker_init(worker: object) -> None:
    """The app is loaded: take what it allocated at startup out of the garbage collector's sight.

    Those objects live as long as the worker, yet every full collection walked them all, holding
    the GIL, and so every thread of the worker: the long tail of the ingest latency. Frozen, they
    are no longer walked.
    """
    gc.freeze()
