"""raamcrm/gunicorn_worker.py reaches inside gunicorn's gthread worker, where gunicorn has no public hook.

Those reaches were read against gunicorn 27.0. On any other version these tests fail on purpose:
read that version's gunicorn/workers/gthread.py for what the worker overrides and calls, run
tests/reliability/test_slow_clients.py, test_worker_restarts.py and test_hostile_input.py, then widen
CHECKED_AGAINST.
"""

from __future__ import annotations

import inspect

import gunicorn
import pytest
from gunicorn.config import Config
from gunicorn.http.unreader import Unreader
from gunicorn.workers.gthread import TConn, ThreadWorker

CHECKED_AGAINST = (27, 0)  # major, minor


def test_gunicorn_is_the_version_the_worker_was_checked_against():
    assert gunicorn.version_info[:2] == CHECKED_AGAINST, (
        f"gunicorn {gunicorn.__version__} is installed; raamcrm/gunicorn_worker.py was checked against "
        f"{'.'.join(map(str, CHECKED_AGAINST))}.x (see this file's docstring)"
    )


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("init_process", ["self"]),
        ("load_wsgi", ["self"]),
        ("handle", ["self", "conn"]),
        ("enqueue_req", ["self", "conn"]),
        ("set_accept_enabled", ["self", "enabled"]),
        ("accept", ["self", "listener"]),
        ("handle_error", ["self", "req", "client", "addr", "exc"]),
    ],
)
def test_the_gthread_methods_the_worker_overrides_or_calls_keep_their_signatures(method, parameters):
    assert list(inspect.signature(getattr(ThreadWorker, method)).parameters) == parameters


@pytest.mark.parametrize(
    ("owner", "method", "parameters"),
    [
        (TConn, "__init__", ["self", "cfg", "sock", "client", "server"]),
        (TConn, "init", ["self"]),
        (TConn, "close", ["self", "graceful"]),
        (Unreader, "unread", ["self", "data"]),
        (Unreader, "take_buffered", ["self"]),
    ],
)
def test_the_connection_and_unreader_methods_the_worker_calls_keep_their_signatures(owner, method, parameters):
    assert list(inspect.signature(getattr(owner, method)).parameters) == parameters


def test_the_settings_the_worker_reads_exist_with_their_defaults():
    config = Config()
    assert not config.is_ssl
    assert config.http2_cleartext == "off"


def test_the_workers_500_says_what_the_apps_own_500_says():
    from leads.intake.exceptions import INTERNAL_ERROR
    from raamcrm import gunicorn_worker

    assert gunicorn_worker.INTERNAL_ERROR == INTERNAL_ERROR
