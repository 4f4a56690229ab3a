"""What the app-wide keys do, and the navigation between screens.

Textual runs a key's action as a method ``action_<name>`` of the app (or of the screen), so these live in
:class:`AppActions`, a mixin of :class:`tui.app.EmergenceApp`: every action changes the frozen
:class:`~tui.state.ViewSettings` through ``apply_settings`` or pushes a screen. The keys themselves are in
:mod:`tui.bindings`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.app import App

from tui.bindings import help_rows
from tui.export import export_screen
from tui.screens.dialogs import HelpScreen, OpenDialog, PickerScreen, ResamplePanel
from tui.screens.overview import OverviewScreen
from tui.state import LAWS, ViewSettings, cycle

if TYPE_CHECKING:
    from analysis.options import ResampleSettings
    from tui.backend.protocol import AnalysisLike, PipelineLike, TableLike
    from tui.compute import ComputeController


class AppActions(App):
    """The app-wide actions and navigation, over the state :class:`tui.app.EmergenceApp` keeps."""

    # provided by EmergenceApp
    settings: ViewSettings
    analysis: AnalysisLike | None
    table: TableLike | None
    pipeline: PipelineLike | None
    computed_for: ViewSettings | None
    error: str
    paths: list[str]
    compute: ComputeController
    _overview_metric: str | None
    _before_open: tuple | None = None  # what ``o`` replaces, kept until the new files are analysed

    def apply_settings(self, settings: ViewSettings) -> None: ...

    def refresh_views(self) -> None: ...

    # ---- navigation ----
    async def action_quit(self) -> None:
        """``q``: close the current screen (as Esc does); quit only from the overview or a screen without a
        way back (the "too small" notice)."""
        back = getattr(self.screen, "action_back", None)
        if back is not None and len(self.screen_stack) > 1 and not isinstance(self.screen, OverviewScreen):
            back()
            return
        self.exit()

    def open_task(self, task: str, metric: str) -> None:
        from tui.screens.task import TaskScreen

        self._overview_metric = self.settings.metric
        self.settings = self.settings.with_(metric=metric)
        self.push_screen(TaskScreen(task, metric))
        self.compute.fit_on_screen()

    def tasks_on_screen(self) -> tuple[str, ...]:
        """The tasks whose screens are open (the ones the app fits laws for), in the order opened."""
        from tui.screens.task import TaskScreen

        return tuple(s.task_name for s in self.screen_stack if isinstance(s, TaskScreen))

    def close_task(self) -> None:
        self.pop_screen()
        self.settings = self.settings.with_(metric=self._overview_metric)
        self.refresh_views()

    def open_paths(self, paths: Sequence[str] | None) -> None:
        """Read ``paths`` instead of the current files (after a bad file, or to look at other results).

        The numbers on screen stay (marked stale) until the new files give theirs; when the new files
        cannot be read they stay for good, with the error above them (:meth:`open_failed`)."""
        if not paths:
            return
        from tui.screens.task import TaskScreen

        if any(isinstance(screen, TaskScreen) for screen in self.screen_stack):
            self.settings = self.settings.with_(metric=self._overview_metric)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, OverviewScreen):
            self.pop_screen()
        if self.analysis is not None:
            self._before_open = (self.paths, self.table, self.pipeline, self.computed_for, self.analysis)
        self.paths = [str(p) for p in paths]
        self.computed_for = None  # the new files' first numbers replace the old ones
        self.error = ""
        self.compute.start(self.settings, load=True)

    def open_failed(self) -> None:
        """The files of ``o`` could not be analysed: keep the data that was loaded before, and say so."""
        before = getattr(self, "_before_open", None)
        self._before_open = None
        if before is not None:
            self.paths, self.table, self.pipeline, self.computed_for, self.analysis = before
            self.error += " (the data loaded before stays on screen)"

    def open_done(self) -> None:
        self._before_open = None

    def open_mirage(self, task: str) -> None:
        from tui.screens.mirage import MirageScreen

        self.push_screen(MirageScreen(task))

    # ---- setters used by keys and the command palette ----
    def set_metric(self, metric: str | None) -> None:
        self.apply_settings(self.settings.with_(metric=metric))

    def set_family(self, family: str | None) -> None:
        self.apply_settings(self.settings.with_(family=family))

    def set_axis(self, axis: str) -> None:
        from tui.views import contents

        if self.analysis is not None and axis not in contents.available_axes(self.analysis):
            self.notify(f"no {axis} values in this data", severity="warning", timeout=3)
            return
        self.apply_settings(self.settings.with_(axis=axis))

    def joint_refused(self, law: str | None) -> bool:
        """The joint law fits params and tokens: refused, with the reason, when no point has tokens."""
        from tui.views import contents

        if law != "joint" or self.analysis is None or "tokens" in contents.available_axes(self.analysis):
            return False
        self.notify("joint law skipped: it fits params and tokens, and no point has tokens", timeout=4)
        return True

    def set_law(self, law: str | None) -> None:
        if not self.joint_refused(law):
            self.apply_settings(self.settings.with_(law=law))

    # ---- actions ----
    def _metric_choices(self) -> list[str | None]:
        from tui.views import contents

        choices = getattr(self.screen, "metric_choices", None)
        if choices is not None:
            return choices()
        return [None, *contents.metrics_for(self.analysis)] if self.analysis is not None else [None]

    def _step_metric(self, step: int) -> None:
        choices = self._metric_choices()
        if len(choices) <= 1:  # nothing to step to: say so instead of doing nothing
            what = f"only {choices[0]}" if choices and choices[0] else "no metrics yet"
            self.notify(f"{what} here: no other metric to show", severity="warning", timeout=3)
            return
        self.set_metric(cycle(choices, self.settings.metric, step))

    def action_next_metric(self) -> None:
        self._step_metric(1)

    def action_previous_metric(self) -> None:
        self._step_metric(-1)

    def action_pick_metric(self) -> None:
        self.push_screen(
            PickerScreen("Metric", self._metric_choices(), self.settings.metric), callback=self.set_metric
        )

    def action_cycle_axis(self) -> None:
        from tui.views import contents

        if self.analysis is None:
            self.notify("the scale axes are known once the files are read", timeout=3)
            return
        axes = contents.available_axes(self.analysis)
        if axes == [self.settings.axis]:  # nothing to switch to: say so instead of doing nothing
            self.notify(
                f"only {self.settings.axis} in this data: no tokens, flops or loss values to put on x",
                severity="warning",
                timeout=4,
            )
            return
        self.set_axis(cycle(axes, self.settings.axis))

    def action_toggle_log_y(self) -> None:
        self.apply_settings(self.settings.with_(log_y=not self.settings.log_y))
        if self.settings.log_y:
            from tui.widgets.plot import PlotWidget

            refusals = {plot.spec.log_y_refusal() for plot in self.screen.query(PlotWidget)} - {""}
            if refusals:  # the plot stays linear: say why, once
                self.notify(sorted(refusals)[0] + "; the y axis stays linear", severity="warning", timeout=4)

    def action_cycle_law(self) -> None:
        law = cycle(LAWS, self.settings.law)
        if self.joint_refused(law):
            law = cycle(LAWS, law)
        self.set_law(law)

    def _family_choices(self) -> list[str | None]:
        from tui.views import contents

        return [None, *contents.families(self.analysis)] if self.analysis is not None else [None]

    def action_cycle_family(self) -> None:
        self.set_family(cycle(self._family_choices(), self.settings.family))

    def action_pick_family(self) -> None:
        self.push_screen(
            PickerScreen("Family", self._family_choices(), self.settings.family), callback=self.set_family
        )

    def action_resample_panel(self) -> None:
        def chosen(resample: ResampleSettings | None) -> None:
            if resample is not None:
                self.apply_settings(self.settings.with_(resample=resample))

        self.push_screen(ResamplePanel(self.settings.resample), callback=chosen)

    def action_reseed(self) -> None:
        resample = self.settings.resample
        self.apply_settings(
            self.settings.with_(resample=dataclasses.replace(resample, seed=resample.seed + 1))
        )
        self.notify(f"seed = {self.settings.resample.seed}", timeout=1.5)

    def action_open_path(self) -> None:
        if not isinstance(self.screen, OpenDialog):
            self.push_screen(OpenDialog(self.paths), callback=self.open_paths)

    def action_open_lab(self) -> None:
        from tui.screens.lab import LabScreen

        if not isinstance(self.screen, LabScreen):
            self.push_screen(LabScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_rows(self, self.screen)))

    def action_show_warnings(self) -> None:
        from tui.screens.warnings import WarningsScreen

        if not isinstance(self.screen, WarningsScreen):
            table = self.table
            warnings = tuple(table.warnings) if table is not None else ()
            sources = tuple(table.sources) if table is not None else ()
            self.push_screen(WarningsScreen(warnings, sources, self.error))

    def action_export(self) -> None:
        export_screen(self)
