"""The compute controller: runs the analysis stages in a worker thread and shows their progress.

Every computation gets the next generation number. Its worker runs the stages the settings need (all of them
after new files, else from scoring on; the pipeline recomputes only stages whose settings changed) and posts
a message after each one (:mod:`tui.messages`); the app hands those messages here. A computation that is no
longer the newest stops at its next stage and its messages are ignored, so the newest settings always win.
The overview's numbers are shown as soon as the emergence stage is done. Laws are fitted (and forecast) for
the tasks on screen only, when a task is opened: a folder of checkpoints holds thousands of curves (Pythia:
5,400 on each axis, minutes of fitting) and the overview shows none of their fits.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.worker import get_current_worker

from analysis.errors import AnalysisError, InputError
from analysis.stages import fits_pending, run_stages, stages_for
from tui.messages import AnalysisReady, Loaded, StageDone, SweepProgress, SweepReady
from tui.safe_text import clean
from tui.state import ViewSettings, needs_compute

if TYPE_CHECKING:
    from tui.app import EmergenceApp
    from tui.backend.protocol import AnalysisLike

STAGE_LABELS: dict[str, str] = {
    "load": "reading files",
    "score": "scoring metrics",
    "points": "bootstrap intervals",
    "emergence": "emergence scores",
    "fits": "fitting laws",
    "forecasts": "forecasting the next decade",
}
STATUS_LABELS: dict[str, str] = {  # the stage in the status line (the progress list gives STAGE_LABELS)
    "load": "reading",
    "score": "scoring",
    "points": "bootstrap",
    "emergence": "verdicts",
    "fits": "fitting",
    "forecasts": "forecasting",
}


class ComputeController:
    """Generations, the worker and the per-stage progress of the app's computations."""

    def __init__(self, app: EmergenceApp) -> None:
        self.app = app
        self.show_elapsed_after = 1.0  # seconds of work before the status line counts them
        self.generation = 0  # bumped by every start; messages from older workers are dropped
        self.stages: tuple[str, ...] = ()  # the stages of the running computation
        self.stage_seconds: dict[str, float] = {}  # the stages done so far, with their seconds
        self.busy_since: float | None = None
        self.last_seconds = 0.0
        self.sweep_generation = 0  # the resolution sweep's own runs (one at a time, the newest wins)
        self.sweep_key: tuple | None = None  # the settings of the sweep running or shown
        self.sweep: object | None = None  # its result (``analysis.sweep.ResolutionSweep``) once ready
        self.sweep_progress: tuple[int, int] = (0, 0)
        self.sweep_error = ""

    def start(self, settings: ViewSettings, *, load: bool = False) -> None:
        """Run the stages ``settings`` needs in a worker (cancelling older ones); progress shows per stage."""
        load = load or self.app.pipeline is None
        if load:  # new files: a sweep of the old ones no longer applies
            self.sweep_generation += 1
            self.sweep_key, self.sweep, self.sweep_error = None, None, ""
        self.generation += 1
        self.busy_since = time.perf_counter()
        tasks = self.app.tasks_on_screen()
        self.stages = stages_for(tasks, load=load)
        self.stage_seconds = {}
        self._show_stage()
        # older runs stop at their next stage
        work = partial(self._compute, settings, self.generation, load, tasks)
        self.app.run_worker(work, name="compute", group="compute", thread=True)

    def preload_views(self) -> None:
        """Import the view layer (polars, numpy) while the files load, so the first redraw with numbers
        does not stall the interface on an import."""
        self.app.run_worker(_import_views, name="preload", group="preload", thread=True)

    def _show_stage(self) -> None:
        done = len(self.stage_seconds)
        if done < len(self.stages):
            name = self.stages[done]
            label = STATUS_LABELS[name]  # short: the status line keeps law, n' and paired in 80 columns
            self.set_activity(f"{label} {done + 1}/{len(self.stages)}…")

    def _compute(self, settings: ViewSettings, generation: int, load: bool, tasks: tuple[str, ...]) -> None:
        """The worker: load (when asked) and run the stages, posting a message after each."""
        app = self.app
        worker = get_current_worker()
        started = time.perf_counter()
        last = [started]

        def alive() -> bool:
            return not worker.is_cancelled and generation == self.generation

        def stage_done(stage: str, partial: AnalysisLike | None = None) -> bool:
            if not alive():
                return False
            now = time.perf_counter()
            app.post_message(StageDone(generation, stage, now - last[0], settings, partial))
            last[0] = now
            return True

        try:
            pipeline = app.pipeline
            if load:
                table = app.backend.load(app.paths, app.load_options)
                pipeline = app.backend.pipeline(table)
                if not alive():
                    return
                app.post_message(Loaded(generation, table, pipeline))
                stage_done("load")
            fit = settings.fit_settings()
            analysis = run_stages(
                pipeline, settings.metric_options, settings.resample, fit, stage_done, tasks
            )
        except (InputError, AnalysisError) as err:
            if alive():
                app.post_message(AnalysisReady(generation, None, settings, error=clean(str(err))))
            return
        except Exception as err:  # the app never dies with a traceback: say what failed and keep going
            message = f"could not analyse the input: {type(err).__name__}: {clean(str(err), max_length=300)}"
            if alive():
                app.post_message(AnalysisReady(generation, None, settings, error=message))
            return
        if analysis is not None and alive():
            app.post_message(
                AnalysisReady(generation, analysis, settings, seconds=time.perf_counter() - started)
            )

    def loaded(self, message: Loaded) -> None:
        app = self.app
        if message.generation == self.generation:
            app.table, app.pipeline = message.table, message.pipeline
            warnings = list(message.table.warnings)
            for number, warning in enumerate(warnings[:3], start=1):
                title = f"warning {number} of {len(warnings)} (w: read them all)"
                app.notify(clean(warning, max_length=300), title=title, severity="warning", timeout=8)

    def stage_done(self, message: StageDone) -> None:
        app = self.app
        if message.generation != self.generation:
            return
        self.stage_seconds[message.stage] = message.seconds
        if message.partial is not None and (
            app.analysis is None
            or app.computed_for is None
            or app.computed_for.resample != message.settings.resample
            or app.computed_for.metric_options != message.settings.metric_options
        ):  # new numbers for the overview now; a fit-only change keeps the old fits until the new ones
            app.analysis = message.partial
            app.computed_for = message.settings
            self._show_stage()
            app.refresh_views()
        else:
            self._show_stage()

    def ready(self, message: AnalysisReady) -> None:
        app = self.app
        if message.generation != self.generation:
            return
        self.busy_since = None
        if message.error:
            app.error = message.error
            app.activity = ""
            app.open_failed()  # files opened with o that cannot be read: the data before them stays
            app.notify(message.error + " (o opens another path)", title="input problem", severity="error",
                       timeout=10)  # fmt: skip
        else:
            app.error = ""
            app.analysis = message.analysis
            app.computed_for = message.settings
            app.activity = "ready"
            app.open_done()
            self.last_seconds = message.seconds
        app.refresh_views()
        if message.error == "" and (needs_compute(app.settings, message.settings) or self.fits_missing()):
            self.start(app.settings)  # a setting changed, or a task was opened, while this ran

    def fits_missing(self) -> bool:
        """Whether a task on screen has no fits yet (the app fits the tasks on screen, on demand)."""
        analysis = self.app.analysis
        return analysis is not None and any(fits_pending(analysis, t) for t in self.app.tasks_on_screen())

    def fit_on_screen(self) -> None:
        """Fit the tasks on screen now, unless a computation runs (it fits them when it ends: ``ready``)."""
        if self.busy_since is None and self.app.pipeline is not None and self.fits_missing():
            self.start(self.app.settings)

    # ---- the resolution sweep: one long computation, in its own worker, with progress per run ----
    @staticmethod
    def sweep_key_for(settings: ViewSettings) -> tuple:
        """What a sweep depends on: the metric options, the resampling and the axis."""
        return (settings.metric_options, settings.resample, settings.axis)

    def start_sweep(self, settings: ViewSettings) -> None:
        """Run the resolution sweep for ``settings`` in a worker, unless it is running or done already."""
        key = self.sweep_key_for(settings)
        if key == self.sweep_key and (self.sweep is not None or self.sweep_running):
            return
        if self.app.pipeline is None:
            return
        self.sweep_generation += 1
        self.sweep_key, self.sweep, self.sweep_error = key, None, ""
        self.sweep_progress = (0, 0)
        work = partial(self._sweep, settings, self.sweep_generation, key)
        self.app.run_worker(work, name="sweep", group="sweep", thread=True, exclusive=True)

    @property
    def sweep_running(self) -> bool:
        return self.sweep_key is not None and self.sweep is None and not self.sweep_error

    def _sweep(self, settings: ViewSettings, generation: int, key: tuple) -> None:
        """The sweep's worker: the pipeline's sweep, posting progress after each of its runs."""
        app = self.app
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if not worker.is_cancelled:
                app.post_message(SweepProgress(generation, done, total))

        try:
            sweep = app.pipeline.resolution_sweep(
                settings.metric_options, settings.resample, settings.axis, None, progress
            )
        except Exception as err:  # shown on the sweep screen; the app keeps going
            message = f"the resolution sweep failed: {type(err).__name__}: {clean(str(err), max_length=300)}"
            app.post_message(SweepReady(generation, None, key, error=message))
            return
        app.post_message(SweepReady(generation, sweep, key))

    def sweep_progressed(self, message: SweepProgress) -> None:
        if message.generation == self.sweep_generation:
            self.sweep_progress = (message.done, message.total)
            self.app.refresh_views()

    def sweep_ready(self, message: SweepReady) -> None:
        if message.generation == self.sweep_generation:
            self.sweep, self.sweep_error = message.sweep, message.error
            self.app.refresh_views()

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
        app = self.app
        app.activity = text
        if app.analysis is None:
            app.refresh_views()
        else:
            app.refresh_status()

    def tick(self) -> None:
        """Count the seconds of a computation in the status line once it takes longer than a moment."""
        app = self.app
        if self.busy_since is not None and time.perf_counter() - self.busy_since > self.show_elapsed_after:
            base = app.activity.split(" ⏱")[0]
            app.activity = f"{base} ⏱{time.perf_counter() - self.busy_since:.0f}s"
            if app.analysis is None:
                app.refresh_views()
            else:
                app.refresh_status()


def _import_views() -> None:
    import tui.views.overview
    import tui.views.task  # noqa: F401
