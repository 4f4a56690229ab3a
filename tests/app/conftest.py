"""Fixtures for the app tests: the app over the fake backend with a small bootstrap (fast, deterministic)."""

from __future__ import annotations

import pytest

from analysis.options import ResampleSettings
from tests.app.fakes import FakeBackend
from tui.app import EmergenceApp
from tui.state import ViewSettings

FAST = ViewSettings(resample=ResampleSettings(bootstrap=200, seed=0))


def make_app(paths: tuple[str, ...] = ("results.csv",), **backend_args: object) -> EmergenceApp:
    return EmergenceApp(list(paths), backend=FakeBackend(**backend_args), settings=FAST)


@pytest.fixture
def app() -> EmergenceApp:
    return make_app()
