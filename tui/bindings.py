"""Every key of the app in one table, from which the footer, the help screen, the command palette and the
README's key table are all made (as harlequin's ``actions.py`` and posting's ``Binding(id=...)`` do).

A row names where the key works (``scope``: ``app`` on every screen, else one screen or dialog), the keys
(Textual's names, comma-separated), the action it runs (a method ``action_<name>`` of the app or of that
screen), the footer's word, one sentence for the README and, for app keys, the command palette's name.
Rows with ``bound=False`` document keys a widget handles itself (Enter in a table, ctrl+p in Textual).

``uv run python -m tui.bindings`` prints the README's key table; a test holds the README to it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.keys import format_key

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen


@dataclass(frozen=True)
class Key:
    """One row of the key table."""

    scope: str
    keys: str
    action: str
    label: str
    explain: str
    palette: str = ""
    show: bool = True
    bound: bool = True

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.label, show=self.show, id=f"{self.scope}.{self.action}")

    def display(self) -> str:
        """The keys as people write them: ``?``, ``Esc``, ``/``, ``ctrl+p``."""
        return " ".join(key_display(key) for key in self.keys.split(","))


SCREENS: dict[str, str] = {  # scope -> where the README says the key works
    "app": "any screen",
    "overview": "overview",
    "task": "task view",
    "mirage": "mirage view",
    "lab": "mirage lab",
    "sweep": "sweep view",
    "table": "tables",
}

# fmt: off
KEYS: tuple[Key, ...] = (
    # ---- every screen (the footer shows them in this order, after the screen's own; 80 columns show the
    # first few, so the rest stay in the help and the palette) ----
    Key("app", "question_mark", "help", "Help",
        "help: every key of the current screen and what the words mean", palette="Help: all keys"),
    Key("app", "q", "quit", "Quit", "close this screen (quit from the overview)",
        palette="Close this screen (quit from the overview)"),
    Key("app", "n", "next_metric", "Metric", "next metric", palette="Next metric"),
    Key("app", "x", "cycle_axis", "Axis", "scale axis: params, tokens, flops, loss (where present)",
        palette="Next scale axis"),
    Key("app", "y", "toggle_log_y", "Log-y", "log-y (a plot with values <= 0 stays linear and says why)",
        palette="Toggle log-y"),
    Key("app", "l", "cycle_law", "Law", "law: default, power, saturating, logistic, joint",
        palette="Next law"),
    Key("app", "f", "cycle_family", "Family", "next family", palette="Next family filter"),
    Key("app", "r", "resample_panel", "Resample",
        "resampling panel (B, CI level, subsample size, seed, paired)",
        palette="Resampling panel…"),
    Key("app", "L", "open_lab", "Lab",
        "the mirage lab: the simulator with c, alpha, L, K and n on keys, curves redrawn as they change",
        palette="Mirage lab"),
    Key("app", "e", "export", "Export",
        "export the current table as CSV (with its task, metric and settings), the plot as text and, when "
        "given a name, as an SVG figure (asks before overwriting)",
        palette="Export table and plot…"),
    Key("app", "w", "show_warnings", "Warnings", "every warning of the loaded files, in full",
        palette="Warnings of the loaded files", show=False),
    Key("app", "p", "previous_metric", "Metric-", "previous metric", palette="Previous metric", show=False),
    Key("app", "M", "pick_metric", "Pick metric", "pick a metric from a list", palette="Pick a metric…",
        show=False),
    Key("app", "F", "pick_family", "Pick family", "pick a family from a list", palette="Pick a family…",
        show=False),
    Key("app", "R", "reseed", "Re-seed", "re-seed the bootstrap", palette="Re-seed the bootstrap",
        show=False),
    Key("app", "o", "open_path", "Open", "open other files or folders", palette="Open other files…",
        show=False),
    # ---- the overview ----
    Key("overview", "s", "sort_column", "Sort",
        "sort by the column under the cursor (again: reversed; the header shows ▲ or ▼)",
        palette="Sort by the column under the cursor"),
    Key("overview", "slash", "focus_filter", "Filter",
        "filter the rows by typing (family, task, metric, verdict)", palette="Filter the rows…"),
    Key("overview", "escape", "clear_filter", "Clear filter", "clear the filter", show=False),
    # ---- the task view ----
    Key("task", "escape", "back", "Back", "back to the overview", palette="Back to the overview"),
    Key("task", "m", "mirage", "Mirage",
        "the mirage check: the discontinuous metric and its continuous partners side by side",
        palette="Mirage check"),
    Key("task", "b", "cycle_holdout", "Backtest",
        "backtest: hold out the 0-3 largest scales, marked ◇ in the plot", palette="Backtest: hold out more"),
    Key("task", "s", "sweep", "Sweep",
        "the resolution sweep: status, verdict and score as the test set shrinks to n' items (runs in the "
        "background)", palette="Resolution sweep"),
    Key("sweep", "escape", "back", "Back", "back to the task view", palette="Back to the task view"),
    # ---- the mirage view ----
    Key("mirage", "escape,m", "back", "Back", "back to the task view", palette="Back to the task view"),
    Key("mirage", "c", "cycle_pair(1)", "Next pair", "next discontinuous/continuous pair of the task",
        palette="Next pair"),
    Key("mirage", "C", "cycle_pair(-1)", "Previous pair", "previous pair", show=False,
        palette="Previous pair"),
    # ---- the mirage lab ----
    Key("lab", "escape", "back", "Back", "back", palette="Back"),
    Key("lab", "up,k", "select(-1)", "Knob ↑", "previous knob", show=False),
    Key("lab", "down,j", "select(1)", "Knob ↓", "next knob", show=False),
    Key("lab", "left,minus", "change(-1)", "−", "lower the knob (c and n halve, alpha -0.05, L and K -1)"),
    Key("lab", "right,plus,equals_sign", "change(1)", "+", "raise the knob"),
    Key("lab", "s", "resample", "New sample", "draw the n measured items again with a new seed",
        palette="New sample of n items"),
    Key("lab", "v", "next_quantity", "Quantity",
        "the continuous panel's next quantity (p, -edit distance, -Brier: each on its own axis)",
        palette="Next continuous quantity"),
    # ---- the tables of the overview and the task view ----
    Key("table", "enter", "select_cursor", "Open", "open the row under the cursor (the overview: its task)"),
    Key("table", "j", "cursor_down", "Down", "next row", show=False),
    Key("table", "k", "cursor_up", "Up", "previous row", show=False),
    Key("table", "g,home", "scroll_top", "First row", "first row", show=False),
    Key("table", "G,end", "scroll_bottom", "Last row", "last row", show=False),
    Key("table", "c", "copy_cell", "Copy cell",
        "copy the cell under the cursor to the clipboard (OSC 52: works over SSH where the terminal allows)",
        show=False),
    Key("table", "C", "copy_row", "Copy row", "copy the row under the cursor, tab-separated", show=False),
    # ---- keys a widget handles: the help lists them after the bound ones ----
    Key("app", "ctrl+p", "command_palette",
        "command palette: every toggle, metric, axis, law and family by name",
        "command palette: every toggle, metric, axis, law and family by name", bound=False),
    # ---- dialogs (each says its keys in its title; not in the README's table) ----
    Key("help", "escape,question_mark,q", "close", "Close", "close the help"),
    Key("warnings", "escape,w,q", "close", "Close", "close the warnings"),
    Key("resample", "escape", "cancel", "Cancel", "cancel"),
    Key("picker", "escape", "cancel", "Cancel", "cancel"),
    Key("export", "escape", "cancel", "Cancel", "cancel"),
    Key("open", "escape", "cancel", "Cancel", "cancel"),
    Key("confirm", "y,enter", "answer(True)", "Yes", "yes"),
    Key("confirm", "n,escape", "answer(False)", "No", "no"),
    Key("too_small", "q", "app.quit", "Quit", "quit"),
)
# fmt: on


def key_display(key: str) -> str:
    """One key as people write it (``question_mark`` -> ``?``, ``escape`` -> ``Esc``)."""
    return {"escape": "Esc", "enter": "Enter", "home": "Home", "end": "End"}.get(key, format_key(key))


def bindings(scope: str) -> list[Binding]:
    """The ``BINDINGS`` of the app (``"app"``) or of one screen or dialog."""
    return [key.binding() for key in KEYS if key.scope == scope and key.bound]


def unbound_keys() -> list[Key]:
    """Keys a widget handles itself: listed in the help after the bound ones."""
    return [key for key in KEYS if not key.bound]


PALETTE_LAST: tuple[str, ...] = ("help", "quit")  # the footer shows them first; the palette opens on settings


def palette_keys(scope: str = "app") -> list[Key]:
    """The keys the command palette lists by name: the app's settings in table order, then help and quit;
    with ``scope``, that screen's keys (sort, filter, back, backtest, mirage...)."""
    last = {action: rank for rank, action in enumerate(PALETTE_LAST, start=1)}
    keys = [key for key in KEYS if key.palette and key.scope == scope]
    return sorted(keys, key=lambda key: last.get(key.action, 0) if scope == "app" else 0)


def scope_of(node: object) -> str | None:
    """The key table's scope of a screen or dialog: the one its ``BINDINGS`` came from."""
    for binding in getattr(node, "BINDINGS", ()):
        if isinstance(binding, Binding) and binding.id:
            return binding.id.split(".")[0]
    return None


def help_rows(app: App, screen: Screen) -> list[tuple[str, str]]:
    """(key, what it does) for the help: the keys of ``screen``, the app's, then widgets' keys, each with its
    sentence from the table."""
    from textual.widgets import DataTable

    scope = scope_of(screen)
    rows = [(key.display(), key.explain) for key in KEYS if key.scope == scope and key.bound]
    if screen.query(DataTable):
        rows += [(key.display(), key.explain) for key in KEYS if key.scope == "table"]
    rows += [(key.display(), key.explain) for key in KEYS if key.scope == "app" and key.bound]
    rows += [(key.display(), key.explain) for key in unbound_keys() if key.scope in (scope, "app")]
    return rows


def markdown_table() -> str:
    """The README's key table: the keys of the app and of its screens, by screen (dialogs say theirs)."""
    order = list(SCREENS)
    rows = sorted((key for key in KEYS if key.scope in SCREENS), key=lambda key: order.index(key.scope))
    lines = ["| key | where | does |", "|---|---|---|"]
    for key in rows:
        shown = ", ".join(f"`{part}`" for part in key.display().split(" "))
        lines.append(f"| {shown} | {SCREENS[key.scope]} | {key.explain} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
