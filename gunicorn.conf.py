"""The web server's settings, for Render (render.yaml), `make run`, the tests' live servers (tests/servers.py)
and the benchmarks: gunicorn managing uvicorn workers (raamcrm.http_server) that serve raamcrm.asgi.

A worker reads each request and writes each response on its event loop, so clients that trickle their
request or never read their answer cost a socket and a buffer, never a thread; a request that has not
arrived within REQUEST_READ_DEADLINE seconds (5) is cut off (raamcrm/http_server.py).
"""

import gc

# The same loud readers as the settings: "PORT=eighty" stops start-up with the variable's name.
# (gunicorn reads WEB_CONCURRENCY itself too, before this file, so a malformed one fails in gunicorn first.)
from raamcrm.env import env_int

wsgi_app = "raamcrm.asgi:application"  # gunicorn's name for the app, ASGI here
bind = f"0.0.0.0:{env_int('PORT', 8000, minimum=1)}"
# Render sets WEB_CONCURRENCY from the instance size: one process per core.
workers = env_int("WEB_CONCURRENCY", 2, minimum=1)
worker_class = "raamcrm.http_server.Worker"
# A worker's event loop that stops answering gunicorn's heartbeat this long is replaced. Views run on threads
# of their own, so this catches a stuck loop, not a slow lead.
timeout = 8
graceful_timeout = 20
# Idle kept-alive connections are closed after this many seconds (uvicorn's timeout_keep_alive).
keepalive = 5
# Load the app once, in the master, and fork every worker from it (see when_ready). A replaced
# worker then starts at once: without this it imported Django again and its first request loaded
# the URLconf, CPU taken from the workers still serving leads. The workers also share those pages.
# A deploy starts a new master, so new code still takes effect.
preload_app = True
# Our own middleware logs one JSON line per request; no access log here (raamcrm.http_server turns off uvicorn's).
accesslog = None
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

    from leads.common.phones import normalise_phone
    from leads.partners import PARTNERS

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
