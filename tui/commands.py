"""The command palette (ctrl+p): every toggle of the app, plus one entry per metric, axis, law and family."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.bindings import palette_keys, scope_of
from tui.safe_text import clean
from tui.state import AXES, LAWS

if TYPE_CHECKING:
    from tui.app import EmergenceApp


class SettingsCommands(Provider):
    """Commands for every setting of emergence-tui."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        from tui.views.contents import families, metrics_for

        app = cast("EmergenceApp", self.app)
        screen = self.screen  # the screen the palette was opened on: its own keys come first
        commands: list[tuple[str, Callable[[], Any], str]] = [
            (key.palette, partial(app.run_action, key.action, screen), f"key {key.display()}")
            for key in palette_keys(scope_of(screen) or "")
        ]
        commands += [
            (key.palette, partial(app.run_action, key.action), f"key {key.display()}")
            for key in palette_keys()
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
