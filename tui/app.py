"""The emergence-tui Textual app: tables and plots over the analysis core, driven from the keyboard.

Loading and computation run in a worker (:mod:`tui.compute`) that posts messages back, so the first frame
paints at once and keys keep working while numbers are computed. Settings live in one frozen
:class:`ViewSettings`; a change that only affects the view (metric, family, log-y) redraws from the current
analysis, anything else asks the pipeline to re-run, and the pipeline recomputes only the stages whose
settings changed. What each key does is in :mod:`tui.actions`, the keys in :mod:`tui.bindings`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App
from textual.binding import BindingType
from textual.geometry import Size
from textual.notifications import SeverityLevel

from analysis.options import LoadOptions
from tui.actions import AppActions
from tui.backend.process import ProcessBackend
from tui.backend.protocol import AnalysisLike, Backend, PipelineLike, TableLike
from tui.bindings import bindings
from tui.commands import SettingsCommands
from tui.compute import STAGE_LABELS, ComputeController
from tui.inputs import default_paths
from tui.messages import AnalysisReady, Loaded, StageDone, SweepProgress, SweepReady
from tui.screens.base import AppScreen
from tui.screens.dialogs import TooSmallScreen
from tui.screens.overview import OverviewScreen
from tui.state import ViewSettings, needs_compute

MIN_SIZE = (60, 16)


class EmergenceApp(AppActions):
    """Is that jump in the scaling curve emergence, or the metric?"""

    TITLE = "emergence-tui"
    COMMANDS = App.COMMANDS | {SettingsCommands}
    CSS = """
    Input#filter { height: 1; border: none; padding: 0 1; background: $boost; }
    #message { height: auto; padding: 0 1; }
    DataTable { height: 1fr; }
    .-stale DataTable, .-stale PlotWidget { text-opacity: 55%; }
    /* the compact footer's keys keep a 1-cell right margin; on the docked palette key that left the last
       column to whatever key ran under it (a stray letter after "palette") */
    Footer.-compact FooterKey.-command-palette { margin-right: 0; padding-right: 1; }
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
        self.analysis: AnalysisLike | None = None
        self.table: TableLike | None = None
        self.pipeline: PipelineLike | None = None
        self.computed_for: ViewSettings | None = None  # the settings ``analysis`` was computed for
        self.error = ""
        self.activity = ""
        self.last_redraw_ms = 0.0
        self.compute = ComputeController(self)
        self._started = False
        self._overview_metric: str | None = None
        self._size_check_pending = False

    # ---- lifecycle ----
    def on_mount(self) -> None:
        self.push_screen(OverviewScreen())
        self.check_size()
        self.set_interval(0.5, self.compute.tick)
        self.compute.set_activity(f"{STAGE_LABELS['load']}…")

    def on_ready(self) -> None:
        """The first frame is on screen: only now start the worker (and its heavy imports)."""
        if not self._started:
            self._started = True
            self.compute.start(self.settings, load=True)
            self.compute.preload_views()

    def on_unmount(self) -> None:
        """End the analysis process as the app ends, before Textual waits for its worker threads (one may be
        waiting on the process: a stage running, a read blocked on a slow file)."""
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()

    def on_resize(self, event: events.Resize) -> None:
        """Check the size once the resizes waiting now are handled: a storm of resizes crossing the minimum
        then pushes or pops the "too small" screen once, not on every event (which kept the main thread in
        layout, keys unanswered)."""
        if not self._size_check_pending:
            self._size_check_pending = True
            self.call_after_refresh(self._check_size_later)

    def _check_size_later(self) -> None:
        self._size_check_pending = False
        self.check_size()

    def check_size(self, size: Size | None = None) -> None:
        """Show "terminal too small" instead of a garbled layout below MIN_SIZE; remove it when big enough."""
        size = size or self.size
        too_small = size.width < MIN_SIZE[0] or size.height < MIN_SIZE[1]
        showing = isinstance(self.screen, TooSmallScreen)
        if too_small and not showing:
            self.push_screen(TooSmallScreen(MIN_SIZE))
        elif not too_small and showing:
            self.pop_screen()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast shown literally: its text names files, models and tasks from the user's data, so it is
        never read as markup (``[reverse]RV`` stays ``[reverse]RV``), whatever ``markup`` a caller passes
        (a screen's ``notify`` passes True). The title is plain text in Textual."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # ---- the worker's messages ----
    def on_loaded(self, message: Loaded) -> None:
        self.compute.loaded(message)

    def on_stage_done(self, message: StageDone) -> None:
        self.compute.stage_done(message)

    def on_analysis_ready(self, message: AnalysisReady) -> None:
        self.compute.ready(message)

    def on_sweep_progress(self, message: SweepProgress) -> None:
        self.compute.sweep_progressed(message)

    def on_sweep_ready(self, message: SweepReady) -> None:
        self.compute.sweep_ready(message)

    # ---- settings and redraws ----
    def apply_settings(self, settings: ViewSettings) -> None:
        """Use ``settings``: re-run the pipeline when a computed stage depends on the change, else redraw."""
        old = self.settings
        self.settings = settings
        if needs_compute(settings, old) and self.pipeline is not None:
            self.compute.start(settings)
        self.refresh_views()  # while files are still read, the new settings apply when that finishes

    def refresh_status(self) -> None:
        from tui.widgets.status import StatusLine

        for status in self.screen.query(StatusLine):
            status.show(self.settings, self.activity)

    def refresh_views(self) -> None:
        """Redraw every screen in the stack from the current analysis and settings; records the time taken."""
        started = time.perf_counter()
        for screen in self.screen_stack:
            if isinstance(screen, AppScreen) and screen.is_mounted:
                screen.refresh_view()
        self.last_redraw_ms = (time.perf_counter() - started) * 1000


def run_app(
    paths: Sequence[str | Path],
    load_options: LoadOptions | None = None,
    *,
    settings: ViewSettings | None = None,
) -> int:
    """Run the app on ``paths`` (the sample data when empty) with the first ``settings`` (the CLI's
    ``--bootstrap``, ``--x``, ...); returns the exit code for the CLI.

    The analysis runs in a child process (:class:`ProcessBackend`) so keys are answered while it computes.
    The terminal is restored and the child ended however the app ends (:mod:`tui.terminal`): ``q``, a
    signal (exit status 128 + its number), or a crash.
    """
    from tui.terminal import ExitOnSignals, TerminalGuard

    guard = TerminalGuard()
    backend = ProcessBackend()
    app = EmergenceApp(paths, load_options, backend=backend, settings=settings)
    signals = ExitOnSignals(lambda code: app.exit(return_code=code), backend.kill, guard)
    signals.install()
    try:
        backend.start()  # the child's imports (polars, scipy) run beside the app's own start-up, not after it
        app.run()
    finally:
        backend.close()
        signals.uninstall()
        guard.restore_if_changed()
    return app.return_code or 0
