"""The real folders of each harness open in the app: the overview lists their tasks and shows no error.

Only ``EmergenceApp``, ``run_test()`` and the overview's table are used (the app's own structure may change),
with the real child-process backend, as a user opening ``emergence-tui ../shared/data/<harness>/raw`` would.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from analysis.options import LoadOptions
from tests.conftest import SHARED_DATA, needs_shared_data
from tui.app import EmergenceApp

pytestmark = needs_shared_data

NAMES = LoadOptions(params_from_name=True)  # API models and HELM runs state no sizes: the README's commands
FOLDERS = {
    "inspect": (SHARED_DATA / "inspect" / "raw", NAMES, {"inspect_evals/a", "popularity"}),
    "helm": (
        SHARED_DATA / "helm" / "raw",
        NAMES,
        {"mmlu:subject", "narrative_qa", "commonsense:dat"},
    ),
    "lm_eval_0492": (SHARED_DATA / "lm_eval_0492" / "raw", LoadOptions(), {"math_perturbed_full"}),
    "chinchilla": (
        SHARED_DATA / "chinchilla" / "tidy.csv",
        LoadOptions(mapping={"point_id": "model", "params_N": "params", "tokens_D": "tokens"}),
        {"pretraining"},
    ),
}


def overview_cells(app: EmergenceApp) -> list[str]:
    tables = list(app.screen.query(DataTable))
    if not tables:
        return []
    table = tables[0]
    return [str(cell) for i in range(table.row_count) for cell in table.get_row_at(i)]


async def wait_for_rows(app: EmergenceApp, pilot, expected: set[str], timeout: float = 180.0) -> list[str]:
    """Pause until every expected task start (short: the overview truncates long names) begins some cell."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cells = overview_cells(app)
        if app.error or all(any(c.startswith(task) for c in cells) for task in expected):
            return cells
        await pilot.pause()
        await asyncio.sleep(0.2)
    return overview_cells(app)


@pytest.mark.parametrize("name", sorted(FOLDERS))
async def test_real_folder_opens_in_the_app(name: str) -> None:
    path, options, tasks = FOLDERS[name]
    app = EmergenceApp([str(Path(path))], options)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_rows(app, pilot, tasks)
        await app.workers.wait_for_complete()  # every stage done: nothing arrives while the app closes
        await pilot.pause()
        cells = overview_cells(app)
        assert not app.error, app.error
        for task in tasks:
            assert any(cell.startswith(task) for cell in cells), (task, cells[:20])


async def test_a_folder_with_no_model_on_any_axis_shows_the_one_line_reason() -> None:
    app = EmergenceApp([str(SHARED_DATA / "helm" / "raw")], LoadOptions())
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 120
        while not app.error and time.monotonic() < deadline:
            await pilot.pause()
            await asyncio.sleep(0.1)
        assert "no model can be placed on a scale axis: give --sizes FILE" in app.error
        assert "\n" not in app.error
