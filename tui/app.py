"""The emergence-tui Textual app: tables and plots over the analysis core, driven from the keyboard.

Loading and computation run in thread workers that post messages back, so the first frame paints at once and
keys keep working while numbers are computed. Settings live in one frozen :class:`ViewSettings`; a change
that only affects the view (metric, family, log-y) redraws from the current analysis, anything else asks the
pipeline to re-run, and the pipeline recomputes only the stages whose settings changed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App
from textual.binding import BindingType
from textual.geometry import Size
from textual.worker import get_current_worker

from analysis.errors import AnalysisError, InputError
from analysis.options import LoadOptions
from tui.backend.process import ProcessBackend
from tui.backend.protocol import Backend
from tui.backend.stages import STAGES, run_stages
from tui.bindings import bindings, help_rows
from tui.commands import SettingsCommands
from tui.export import ExportError, write_text_atomically
from tui.inputs import default_paths
from tui.messages import AnalysisReady, Loaded, StageDone
from tui.safe_text import clean
from tui.screens.dialogs import (
    ConfirmScreen,
    ExportDialog,
    HelpScreen,
    OpenDialog,
    PickerScreen,
    ResamplePanel,
    TooSmallScreen,
)
from tui.screens.overview import OverviewScreen
from tui.state import LAWS, ViewSettings, cycle, needs_compute

MIN_SIZE = (60, 16)


STAGE_LABELS: dict[str, str] = {
    "load": "reading files",
    "score": "scoring metrics",
    "points": "bootstrap intervals",
    "emergence": "emergence scores",
    "fits": "fitting laws",
}


class EmergenceApp(App):
    """Is that jump in the scaling curve emergence, or the metric?"""

    TITLE = "emergence-tui"
    SHOW_ELAPSED_AFTER = 1.0  # seconds of work before the status line counts them
    COMMANDS = App.COMMANDS | {SettingsCommands}
    CSS = """
    Input#filter { height: 1; border: none; padding: 0 1; background: $boost; }
    #message { height: auto; padding: 0 1; }
    DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")

    def __init__(
        self,
        paths: Sequence[str | Path] = (),
        load_options: LoadOptions | None = None,
        *,
        backend: Backend | None = None,
        settings: ViewSettings | None = None,
    ) -> None:
        super().__init__()
        self.paths = default_paths(paths)
        self.load_options = load_options or LoadOptions()
        self.backend: Backend = backend or ProcessBackend()
        self.settings = settings or ViewSettings()
        self.analysis: Any = None
        self.table: Any = None
        self.pipeline: Any = None
        self.error = ""
        self.activity = ""
        self.busy_since: float | None = None
        self.last_redraw_ms = 0.0
        self.last_compute_seconds = 0.0
        self.computed_for: ViewSettings | None = None
        self.generation = 0  # bumped by every start_compute; messages from older workers are dropped
        self.stages: tuple[str, ...] = ()  # the stages of the running computation
        self.stage_seconds: dict[str, float] = {}  # the stages done so far, with their seconds
        self._started = False
        self._overview_metric: str | None = None

    # ---- lifecycle ----
    def on_mount(self) -> None:
        self.push_screen(OverviewScreen())
        self.check_size()
        self.set_interval(0.5, self._tick_activity)
        self.set_activity(f"{STAGE_LABELS['load']}…")

    def on_ready(self) -> None:
        """The first frame is on screen: only now start the worker (and its heavy imports)."""
        if not self._started:
            self._started = True
            self.start_compute(self.settings, load=True)
            self._preload_views()

    @work(thread=True, group="preload")
    def _preload_views(self) -> None:
        """Import the view layer (polars, numpy) while the files load, so the first redraw with numbers
        does not stall the interface on an import."""
        import tui.views.overview
        import tui.views.task  # noqa: F401

    def on_resize(self, event: events.Resize) -> None:
        self.check_size(event.size)

    def check_size(self, size: Size | None = None) -> None:
        """Show "terminal too small" instead of a garbled layout below MIN_SIZE; remove it when big enough."""
        size = size or self.size
        too_small = size.width < MIN_SIZE[0] or size.height < MIN_SIZE[1]
        showing = isinstance(self.screen, TooSmallScreen)
        if too_small and not showing:
            self.push_screen(TooSmallScreen(MIN_SIZE))
        elif not too_small and showing:
            self.pop_screen()

    # ---- computation ----
    def start_compute(self, settings: ViewSettings, *, load: bool = False) -> None:
        """Run the stages ``settings`` needs in a worker (cancelling older ones); progress shows per stage."""
        load = load or self.pipeline is None
        self.generation += 1
        self.busy_since = time.perf_counter()
        self.stages = STAGES if load else STAGES[1:]
        self.stage_seconds = {}
        self._show_stage()
        self._compute(settings, self.generation, load)

    def _show_stage(self) -> None:
        done = len(self.stage_seconds)
        if done < len(self.stages):
            name = self.stages[done]
            label = STAGE_LABELS[name]
            if name == "points":
                label += f" (B={self.settings.resample.bootstrap})"
            self.set_activity(f"{label} {done + 1}/{len(self.stages)}…")

    @work(thread=True, group="compute")  # older runs stop at their next stage: see alive()
    def _compute(self, settings: ViewSettings, generation: int, load: bool) -> None:
        worker = get_current_worker()
        started = time.perf_counter()
        last = [started]

        def alive() -> bool:
            return not worker.is_cancelled and generation == self.generation

        def stage_done(stage: str, partial: Any = None) -> bool:
            if not alive():
                return False
            now = time.perf_counter()
            self.post_message(StageDone(generation, stage, now - last[0], settings, partial))
            last[0] = now
            return True

        try:
            pipeline = self.pipeline
            if load:
                table = self.backend.load(self.paths, self.load_options)
                pipeline = self.backend.pipeline(table)
                if not alive():
                    return
                self.post_message(Loaded(generation, table, pipeline))
                stage_done("load")
            analysis = run_stages(
                pipeline, settings.metric_options, settings.resample, settings.fit_settings(), stage_done
            )
        except (InputError, AnalysisError) as err:
            if alive():
                self.post_message(AnalysisReady(generation, None, settings, error=clean(str(err))))
            return
        except Exception as err:  # the app never dies with a traceback: say what failed and keep going
            message = f"could not analyse the input: {type(err).__name__}: {clean(str(err), max_length=300)}"
            if alive():
                self.post_message(AnalysisReady(generation, None, settings, error=message))
            return
        if analysis is not None and alive():
            self.post_message(
                AnalysisReady(generation, analysis, settings, seconds=time.perf_counter() - started)
            )

    def on_loaded(self, message: Loaded) -> None:
        if message.generation == self.generation:
            self.table, self.pipeline = message.table, message.pipeline
            for warning in list(getattr(self.table, "warnings", ()) or ())[:3]:
                self.notify(clean(warning, max_length=300), severity="warning", timeout=8)

    def on_stage_done(self, message: StageDone) -> None:
        if message.generation != self.generation:
            return
        self.stage_seconds[message.stage] = message.seconds
        if message.partial is not None and (
            self.analysis is None
            or self.computed_for is None
            or self.computed_for.resample != message.settings.resample
            or self.computed_for.metric_options != message.settings.metric_options
        ):  # new numbers for the overview now; a fit-only change keeps the old fits until the new ones
            self.analysis = message.partial
            self.computed_for = message.settings
            self._show_stage()
            self.refresh_views()
        else:
            self._show_stage()

    def on_analysis_ready(self, message: AnalysisReady) -> None:
        if message.generation != self.generation:
            return
        self.busy_since = None
        if message.error:
            self.error = message.error
            self.activity = ""
            self.notify(message.error + " (o opens another path)", title="input problem", severity="error",
                        timeout=10)  # fmt: skip
        else:
            self.error = ""
            self.analysis = message.analysis
            self.computed_for = message.settings
            self.activity = "ready"
            self.last_compute_seconds = message.seconds
        self.refresh_views()
        if message.error == "" and needs_compute(self.settings, message.settings):
            self.start_compute(self.settings)  # a setting changed while the files were being read

    def progress_text(self) -> Text:
        """The stages of the running computation, one a line: done (with seconds), running, waiting."""
        text = Text()
        for index, stage in enumerate(self.stages):
            if index:
                text.append("\n")
            label = STAGE_LABELS[stage]
            if stage in self.stage_seconds:
                text.append(f"✓ {label}  {self.stage_seconds[stage]:.1f}s", style="green")
            elif index == len(self.stage_seconds):
                text.append(f"▶ {label}…", style="bold")
            else:
                text.append(f"  {label}", style="dim")
        return text

    def set_activity(self, text: str) -> None:
        self.activity = text
        if self.analysis is None:
            self.refresh_views()
        else:
            self.refresh_status()

    def _tick_activity(self) -> None:
        if self.busy_since is not None and time.perf_counter() - self.busy_since > self.SHOW_ELAPSED_AFTER:
            base = self.activity.split(" ⏱")[0]
            self.activity = f"{base} ⏱{time.perf_counter() - self.busy_since:.0f}s"
            if self.analysis is None:
                self.refresh_views()
            else:
                self.refresh_status()

    def refresh_status(self) -> None:
        from tui.widgets.status import StatusLine

        for status in self.screen.query(StatusLine):
            status.show(self.settings, self.activity)

    def refresh_views(self) -> None:
        """Redraw every screen in the stack from the current analysis and settings; records the time taken."""
        started = time.perf_counter()
        for screen in self.screen_stack:
            refresh = getattr(screen, "refresh_view", None)
            if refresh is not None and screen.is_mounted:
                refresh()
        self.last_redraw_ms = (time.perf_counter() - started) * 1000

    def apply_settings(self, settings: ViewSettings) -> None:
        """Use ``settings``: re-run the pipeline when a computed stage depends on the change, else redraw."""
        old = self.settings
        self.settings = settings
        if needs_compute(settings, old) and self.pipeline is not None:
            self.start_compute(settings)
        self.refresh_views()  # while files are still read, the new settings apply when that finishes

    # ---- navigation ----
    def open_task(self, task: str, metric: str) -> None:
        from tui.screens.task import TaskScreen

        self._overview_metric = self.settings.metric
        self.settings = self.settings.with_(metric=metric)
        self.push_screen(TaskScreen(task, metric))

    def close_task(self) -> None:
        self.pop_screen()
        self.settings = self.settings.with_(metric=self._overview_metric)
        self.refresh_views()

    def open_paths(self, paths: Sequence[str] | None) -> None:
        """Read ``paths`` instead of the current files (after a bad file, or to look at other results)."""
        if not paths:
            return
        from tui.screens.task import TaskScreen

        if any(isinstance(screen, TaskScreen) for screen in self.screen_stack):
            self.settings = self.settings.with_(metric=self._overview_metric)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, OverviewScreen):
            self.pop_screen()
        self.paths = [str(p) for p in paths]
        self.table = self.pipeline = self.analysis = self.computed_for = None
        self.error = ""
        self.start_compute(self.settings, load=True)

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

    def set_law(self, law: str | None) -> None:
        self.apply_settings(self.settings.with_(law=law))

    # ---- actions ----
    def _metric_choices(self) -> list[str | None]:
        from tui.views import contents

        choices = getattr(self.screen, "metric_choices", None)
        if choices is not None:
            return choices()
        return [None, *contents.metrics_for(self.analysis)] if self.analysis is not None else [None]

    def action_next_metric(self) -> None:
        self.set_metric(cycle(self._metric_choices(), self.settings.metric, 1))

    def action_previous_metric(self) -> None:
        self.set_metric(cycle(self._metric_choices(), self.settings.metric, -1))

    def action_pick_metric(self) -> None:
        self.push_screen(
            PickerScreen("Metric", self._metric_choices(), self.settings.metric), callback=self.set_metric
        )

    def action_cycle_axis(self) -> None:
        from tui.views import contents

        axes = contents.available_axes(self.analysis) if self.analysis is not None else ["params"]
        self.set_axis(cycle(axes, self.settings.axis))

    def action_toggle_log_y(self) -> None:
        self.apply_settings(self.settings.with_(log_y=not self.settings.log_y))

    def action_cycle_law(self) -> None:
        self.set_law(cycle(LAWS, self.settings.law))

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
        def chosen(resample: Any) -> None:
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

    # ---- export ----
    def action_export(self) -> None:
        export_table = getattr(self.screen, "export_table", None)
        if export_table is None:
            self.notify("nothing to export on this screen", timeout=3)
            return
        name = type(self.screen).__name__.removesuffix("Screen").lower()
        has_plot = hasattr(self.screen, "export_plot")
        table = export_table()
        plot = self.screen.export_plot() if has_plot else None

        def chosen(paths: tuple[str, str] | None) -> None:
            if paths is None:
                return
            jobs = []
            if paths[0]:
                jobs.append((paths[0], table.write_csv()))
            if paths[1] and plot is not None:
                jobs.append((paths[1], plot + "\n"))
            self._write_jobs(jobs)

        self.push_screen(
            ExportDialog(f"emergence-{name}.csv", f"emergence-{name}-plot.txt" if has_plot else None),
            callback=chosen,
        )

    def _write_jobs(self, jobs: list[tuple[str, str]], overwrite: bool = False) -> None:
        """Write each (path, text); ask before replacing an existing file, report failures as messages."""
        if not jobs:
            return
        (path, text), rest = jobs[0], jobs[1:]
        try:
            written = write_text_atomically(path, text, overwrite=overwrite)
        except FileExistsError:

            def answer(yes: bool | None) -> None:
                if yes:
                    self._write_jobs(jobs, overwrite=True)
                else:
                    self.notify(f"kept the existing {clean(path)}", timeout=3)
                    self._write_jobs(rest)

            self.push_screen(ConfirmScreen(f"{path} exists. Overwrite it?"), callback=answer)
            return
        except ExportError as err:
            self.notify(clean(str(err)), title="export failed", severity="error", timeout=8)
        else:
            self.notify(f"wrote {clean(str(written))}", timeout=3)
        self._write_jobs(rest)


def run_app(paths: Sequence[str | Path], load_options: LoadOptions | None = None) -> int:
    """Run the app on ``paths`` (the sample data when empty); returns the exit code for the CLI.

    The analysis runs in a child process (:class:`ProcessBackend`) so keys are answered while it computes.
    """
    backend = ProcessBackend()
    backend.start()  # the child's imports (polars, scipy) run beside the app's own start-up, not after it
    try:
        EmergenceApp(paths, load_options, backend=backend).run()
    finally:
        backend.close()
    return 0
