"""Shared test helpers: where the real public data lives, and a writer for small files in tmp_path."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI runs a fresh clone with a copy of shared/ beside it, so the data is always <repo root>/../shared/data.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason=f"real public data not found at {SHARED_DATA} (shared/ beside the repo)"
)


def file_digest(path: Path) -> str:
    """SHA-256 of a file, to check that loading never modifies the user's files."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` to ``tmp_path / name`` and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first, the longest (``slow(seconds=...)``) first among them: with two workers (pytest-xdist)
    a minute-long test then starts at once instead of keeping one worker busy after the other has finished."""

    def order(item: pytest.Item) -> tuple[bool, float]:
        slow = item.get_closest_marker("slow")
        return slow is None, -float(slow.kwargs.get("seconds", 0)) if slow else 0.0

    items.sort(key=order)  # stable: collection order within each kind
    if getattr(config.option, "loadgroup", False):  # on xdist's workers under --dist loadgroup (addopts)
        _name_xdist_groups(items)


def _name_xdist_groups(items: list[pytest.Item]) -> None:
    """Give each test marked ``xdist_group(name)`` the node id suffix ``@name``, which is how ``--dist
    loadgroup`` sends a group to one worker. pytest-xdist 3.8 writes the suffix to ``item._nodeid``, which
    pytest 9 no longer reads (node ids are ``item._id``): without this every group was spread over both
    workers, so its tests ran beside each other and each worker built its module fixtures again."""
    for item in items:
        marks = item.iter_markers("xdist_group")
        group = "_".join(
            sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
        )
        if not group or not hasattr(item, "_id") or item.nodeid.endswith(f"@{group}"):
            continue  # no group; an older pytest (xdist's own suffix works); or already named
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")
