"""The command palette (ctrl+p): every toggle of the app, plus one entry per metric, axis, law and family."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.safe_text import clean
from tui.state import AXES, LAWS

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Next metric", "next_metric", "n"),
    ("Previous metric", "previous_metric", "p"),
    ("Pick a metric…", "pick_metric", "M"),
    ("Next scale axis", "cycle_axis", "x"),
    ("Toggle log-y", "toggle_log_y", "y"),
    ("Next law", "cycle_law", "l"),
    ("Next family filter", "cycle_family", "f"),
    ("Pick a family…", "pick_family", "F"),
    ("Resampling panel…", "resample_panel", "r"),
    ("Re-seed the bootstrap", "reseed", "R"),
    ("Mirage lab", "open_lab", "L"),
    ("Export table and plot…", "export", "e"),
    ("Open other files…", "open_path", "o"),
    ("Help: all keys", "help", "?"),
    ("Quit", "quit", "q"),
)


class SettingsCommands(Provider):
    """Commands for every setting of emergence-tui."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        from tui.views.contents import families, metrics_for

        app: Any = self.app
        commands: list[tuple[str, Callable[[], Any], str]] = [
            (name, partial(app.run_action, action), f"key {key}") for name, action, key in ACTIONS
        ]
        if app.analysis is not None:
            for metric in metrics_for(app.analysis):
                name = f"Metric: {clean(metric)}"
                commands.append((name, partial(app.set_metric, metric), "show this metric"))
            for family in families(app.analysis):
                commands.append(
                    (f"Family: {clean(family)}", partial(app.set_family, family), "show only this family")
                )
        for axis in AXES:
            commands.append((f"Axis: {axis}", partial(app.set_axis, axis), "scale axis"))
        for law in LAWS:
            commands.append((f"Law: {law or 'default'}", partial(app.set_law, law), "law to fit"))
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
