"""The key table: the footer, the help, the palette and the README are all made from tui.bindings.KEYS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tui.app import EmergenceApp
from tui.bindings import KEYS, SCREENS, bindings, markdown_table, palette_keys
from tui.screens.dialogs import (
    ConfirmScreen,
    ExportDialog,
    HelpScreen,
    OpenDialog,
    PickerScreen,
    ResamplePanel,
    TooSmallScreen,
)
from tui.screens.lab import LabScreen
from tui.screens.mirage import MirageScreen
from tui.screens.overview import OverviewScreen
from tui.screens.sweep import SweepScreen
from tui.screens.task import TaskScreen
from tui.screens.warnings import WarningsScreen
from tui.widgets.table import Table

README = Path(__file__).resolve().parents[2] / "README.md"
TARGETS = {
    "app": EmergenceApp, "overview": OverviewScreen, "task": TaskScreen, "mirage": MirageScreen,
    "lab": LabScreen, "sweep": SweepScreen, "help": HelpScreen, "resample": ResamplePanel,
    "picker": PickerScreen, "export": ExportDialog, "open": OpenDialog, "confirm": ConfirmScreen,
    "too_small": TooSmallScreen, "warnings": WarningsScreen, "table": Table,
}  # fmt: skip


def test_the_readme_key_table_is_the_one_made_from_the_table() -> None:
    text = README.read_text(encoding="utf-8")
    shown = re.search(r"<!-- keys:[^\n]*-->\n(.*?)<!-- /keys -->", text, re.S)
    assert shown is not None, "README.md lost its key table markers"
    assert shown.group(1).strip() == markdown_table(), (
        "run `uv run python -m tui.bindings` and paste its table"
    )


@pytest.mark.parametrize("scope", sorted(TARGETS))
def test_every_binding_comes_from_the_table_and_runs_an_existing_action(scope: str) -> None:
    target = TARGETS[scope]
    rows = [key for key in KEYS if key.scope == scope and key.bound]
    assert [(b.key, b.action, b.description, b.show) for b in target.BINDINGS] == [
        (key.keys, key.action, key.label, key.show) for key in rows
    ]
    for key in rows:
        owner, name = (
            (EmergenceApp, key.action[4:]) if key.action.startswith("app.") else (target, key.action)
        )
        assert hasattr(owner, "action_" + name.split("(")[0]), f"{scope}: no action for {key.keys}"


def test_no_screen_key_shadows_an_app_key_and_no_key_is_bound_twice() -> None:
    app_keys = {k for key in KEYS if key.scope == "app" and key.bound for k in key.keys.split(",")}
    for scope in {key.scope for key in KEYS}:
        keys = [k for key in KEYS if key.scope == scope and key.bound for k in key.keys.split(",")]
        assert len(keys) == len(set(keys)), f"{scope} binds a key twice"
        if scope in SCREENS and scope != "app":
            assert not app_keys & set(keys), f"{scope} hides app keys {app_keys & set(keys)}"


def test_palette_lists_the_app_keys_by_name_with_their_key() -> None:
    entries = {key.palette: (key.action, key.display()) for key in palette_keys()}
    assert entries["Toggle log-y"] == ("toggle_log_y", "y")
    assert entries["Help: all keys"] == ("help", "?")
    assert all(key.scope == "app" and key.bound for key in palette_keys())
    assert [key.palette for key in palette_keys()][-3:] == [
        "Open other files…", "Help: all keys", "Close this screen (quit from the overview)",
    ]  # fmt: skip
    assert "Quit" not in entries, "Textual's own palette entry is Quit (the app, at once)"
    assert len(entries) == len(bindings("app")), "every app key has a palette name"
    screens = {
        scope: [key.palette for key in palette_keys(scope)] for scope in ("overview", "task", "mirage")
    }
    assert screens["overview"] == ["Sort by the column under the cursor", "Filter the rows…"]
    assert screens["task"] == [
        "Back to the overview",
        "Mirage check",
        "Backtest: hold out more",
        "Resolution sweep",
    ]
    assert screens["mirage"] == ["Back to the task view", "Next pair", "Previous pair"]


def test_the_help_explains_every_status_and_verdict_word_docs_science_defines() -> None:
    from tui.glossary import GLOSSARY

    science = (README.parent / "docs" / "science.md").read_text(encoding="utf-8")
    tables = science[science.index("### 5.4") : science.index("### 5.6")]
    defined = set(re.findall(r"^\| `([^`<]+?)(?: <[^`]*>)?`", tables, re.M))
    defined |= set(re.findall(r"^\| `[^`]+`, `([^`]+)`", tables, re.M))  # the trend row names four
    explained = {part.strip() for word, _, _ in GLOSSARY for part in word.split("/")}
    assert {"mirage", "survives", "jump", "smooth", "unresolved", "tied scales"} <= defined
    assert defined - explained == set()
    for word, meaning, section in GLOSSARY:
        assert meaning and (not section or f"## {section}" in science or f"### {section} " in science), word
