"""What every reliability test shares: committed data that server processes can see, and a time bound,
so a hung server fails the test instead of the CI run."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.timeout(180))
            item.add_marker(pytest.mark.django_db(transaction=True))
