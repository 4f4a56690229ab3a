"""The app side of what a shared cluster throws at it (issue 18): signals, dead terminals, blocked workers,
markup in names and resize storms.

The signal cases start the real app (``python -m tui.cli``) in a tmux pane and read the pane's own flags
(``#{alternate_on}``, ``#{cursor_flag}``, the mouse flags) and ``stty -g`` before and after, so "the terminal
is restored" is what tmux itself says; the worker process is looked up under ``/proc`` and must be gone. The
tmux cases run in one xdist group (one at a time, each pane on a tmux server of its own) and each is bounded
by a deadline. A worker that never answers is :mod:`tests.robustness.stalled_child` (a read of a FIFO no one
writes, or a busy loop). Markup in names runs under Pilot; the resize storm under Pilot and in tmux.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import html
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.geometry import Size
from textual.widgets import Input
from textual.widgets._toast import Toast

from analysis.options import LoadOptions, ResampleSettings
from tests.app.fakes import FakeBackend
from tests.robustness.stalled_child import APP_LAUNCHER
from tests.robustness.stalled_child import CHILD_MAIN as STALLED_CHILD
from tests.robustness.test_app_corpus import QuickBackend
from tui.app import MIN_SIZE, EmergenceApp
from tui.backend import process
from tui.backend.process import ProcessBackend
from tui.screens.dialogs import ExportDialog, HelpScreen, PickerScreen, TooSmallScreen
from tui.screens.mirage import MirageScreen
from tui.screens.overview import OverviewScreen
from tui.screens.task import TaskScreen
from tui.state import ViewSettings

# ---------------------------------------------------------------- markup in every place a name can appear

MODELS = (
    "[reverse]RV-10m", "[b]big[/b]-30m", "[red]x-100m", "plain[/]-300m",
    "[link=https://e.x]k[/link]-1b", "[i]m-3b", "[u]m-10b",
)  # fmt: skip
FAMILY = "[on red]fam"
TASK = "[reverse]task"
FOLDER = "[blink]runs"
GOOD = "[u]res.csv"
BAD = "[bold]bad.csv"


def write_markup_data(root: Path) -> Path:
    """A folder (named with markup) with a per-sample CSV whose models, family and task are markup, and a bad
    CSV (named with markup) that is skipped with a warning; sizes come from the names (another warning)."""
    folder = root / FOLDER
    folder.mkdir(parents=True)
    lines = ["model,family,task,item,target,prediction"]
    for j, model in enumerate(MODELS):
        for i in range(40):
            right = (i * 7919 % 40) < 6 * j  # more right answers at larger sizes
            lines.append(f'"{model}","{FAMILY}","{TASK}",{i},12345,{"12345" if right else "12999"}')
    (folder / GOOD).write_text("\n".join(lines) + "\n")
    (folder / BAD).write_text("size,score\n1,2\n")
    return folder


def screen_text(app: EmergenceApp) -> str:
    """Everything on screen as plain text (the SVG screenshot's text runs, in order)."""
    runs = re.findall(r"<text[^>]*>(.*?)</text>", app.export_screenshot(), flags=re.S)
    return html.unescape("".join(runs)).replace("\xa0", " ")


def toasts(app: EmergenceApp) -> list[str]:
    """The text of each toast on screen, as rendered."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


async def settle(app: EmergenceApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def test_names_with_markup_are_shown_literally_in_every_widget_toast_and_title(tmp_path: Path) -> None:
    folder = write_markup_data(tmp_path)
    settings = ViewSettings(resample=ResampleSettings(bootstrap=30, seed=0))
    options = LoadOptions(params_from_name=True)
    app = EmergenceApp([str(folder)], options, backend=QuickBackend(), settings=settings)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, OverviewScreen) and app.error == "", app.error
        # warning toasts: the skipped file (folder and name with markup), the models whose sizes were parsed
        shown = "\n".join(toasts(app))
        assert f"{FOLDER}/{BAD}" in shown and "[reverse]RV-10m=1e+07" in shown, shown
        assert all(not n.markup for n in app._notifications), "a toast would read its text as markup"
        text = screen_text(app)
        assert TASK in text, "overview table"
        # the task view: title, points table, fit
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskScreen)
        text = screen_text(app)
        assert TASK in text, "task title"
        for model in ("[reverse]RV-10m", "[b]big[/b]-30m", "[red]x-100m", "plain[/]-300m"):
            assert model in text, f"points table: {model}"
        assert FAMILY in text, "points table: family"
        # the mirage view: the legend and the pair's line name the family
        await pilot.press("m")
        await settle(app, pilot)
        assert isinstance(app.screen, MirageScreen)
        assert f"▶ {FAMILY}  exact_match" in screen_text(app)
        await pilot.press("escape")
        # the family picker and the status line once a family is picked
        await pilot.press("F")
        assert isinstance(app.screen, PickerScreen)
        assert FAMILY in screen_text(app), "family picker"
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert app.settings.family == FAMILY
        assert FAMILY in screen_text(app), "status line"
        # export: the toast names the written file (a name the user typed, with markup)
        await pilot.press("e")
        assert isinstance(app.screen, ExportDialog)
        target = tmp_path / "[reverse]out.csv"
        app.screen.query_one("#table_path", Input).value = str(target)
        if app.screen.query("#plot_path"):
            app.screen.query_one("#plot_path", Input).value = ""
        app.screen.query_one("#table_path", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert target.exists()
        assert any(f"wrote {target}" in toast for toast in toasts(app)), toasts(app)
        # an input problem: the message and the error toast name the file literally
        await pilot.press("escape")
        app.open_paths([str(folder / BAD)])
        await settle(app, pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert BAD in screen_text(app), "overview message"
        assert any(BAD in toast and "input problem" in toast for toast in toasts(app)), toasts(app)
        assert all(not n.markup for n in app._notifications)
        await pilot.press("q")
    assert app.return_code == 0


# ---------------------------------------------------------------- the analysis process: blocked, orphaned

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def wait_until(condition, seconds: float, step: float = 0.02) -> float | None:
    """Poll ``condition`` for up to ``seconds``; the seconds it took, or None if it never held."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(step)
    return None


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "slow.csv"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("stall", ["fifo", "busy"])
def test_close_ends_a_blocked_analysis_process_within_a_second(
    stall: str, fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() does not wait for the lock the blocked request holds: the child is terminated, the waiting
    thread gets an error and lets go."""
    monkeypatch.setattr(process, "CHILD_MAIN", STALLED_CHILD)
    monkeypatch.setenv("STALL", f"fifo:{fifo}" if stall == "fifo" else "busy")
    monkeypatch.chdir(ROOT)  # the child imports tests.robustness.stalled_child from here
    backend = ProcessBackend()
    backend.start()
    pid = backend.pid
    errors: list[Exception] = []

    def load() -> None:
        try:
            backend.load(["x.csv"], LoadOptions())
        except Exception as err:
            errors.append(err)

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(0.8)  # the request is in flight: the child is blocked on the FIFO or spinning
    assert thread.is_alive() and pid is not None and alive(pid)
    started = time.monotonic()
    backend.close()
    assert time.monotonic() - started < 1.0
    thread.join(1.0)
    assert not thread.is_alive() and len(errors) == 1 and "closed" in str(errors[0])
    assert not alive(pid)


ORPHAN = f"""
import os, sys, threading, time
from analysis.options import LoadOptions
from tui.backend import process
process.CHILD_MAIN = {STALLED_CHILD!r}
os.environ["STALL"] = "busy"
backend = process.ProcessBackend()
if sys.argv[1] == "main":
    backend.start()
else:  # started from another thread: no parent-death signal, only the child's watch of its parent's pid
    thread = threading.Thread(target=backend.start)
    thread.start()
    thread.join()
threading.Thread(target=backend.load, args=(["x.csv"], LoadOptions()), daemon=True).start()
time.sleep(0.5)  # the child is busy loading: it does not read the request pipe and sees no EOF there
print(backend.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("started_by", ["main", "thread"])
def test_the_analysis_process_ends_when_the_app_is_killed(started_by: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, started_by], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()  # SIGKILL: no handler, no close(), nothing runs in the app
        parent.wait(5)
        took = wait_until(lambda: not alive(child), 10.0)
        assert took is not None, "the analysis process outlived the app"
        assert took < 3.0  # well under a second on an idle machine; its teardown is slower under load
    finally:
        parent.kill()
        parent.wait()


# ---------------------------------------------------------------- no terminal


def test_the_app_refuses_to_start_without_a_terminal() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # no escape codes
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "stdin and stdout are not one" in lines[0]
    assert "emergence-tui report" in lines[0]


def test_the_app_refuses_a_pipe_on_stdout_even_with_a_terminal_on_stdin() -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli"],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=20,
            cwd=ROOT,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert result.returncode == 2 and result.stdout == ""
    assert "but stdout is not one" in result.stderr and "report" in result.stderr


# ---------------------------------------------------------------- a storm of resizes, under Pilot


async def test_a_resize_storm_while_loading_leaves_keys_answered() -> None:
    """200 resizes, every other one below the minimum, spaced as a window manager sends them; then a key."""
    gate = threading.Event()
    app = EmergenceApp(
        ["results.csv"],
        backend=FakeBackend(gate=gate, gate_timeout=30),
        settings=ViewSettings(resample=ResampleSettings(bootstrap=50, seed=0)),
    )
    pushes = []
    push_screen = app.push_screen
    app.push_screen = lambda screen, *a, **k: (pushes.append(screen), push_screen(screen, *a, **k))[1]
    # a main thread that spins (as it did) never returns to the test: end the run with a traceback instead
    faulthandler.dump_traceback_later(60, exit=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        started = time.monotonic()
        for i in range(200):
            size = Size(40, 10) if i % 2 else Size(90 + i % 30, 25 + i % 10)
            app._driver._size = size
            app.post_message(events.Resize(size, size))
            await asyncio.sleep(0.005)
        app._driver._size = Size(100, 30)
        app.post_message(events.Resize(Size(100, 30), Size(100, 30)))
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert time.monotonic() - started < 15
        assert [type(s).__name__ for s in app.screen_stack] == ["Screen", "OverviewScreen", "HelpScreen"]
        assert len(pushes) < 100, "the too-small screen was pushed on every crossing"
        await pilot.press("escape")
        await pilot.resize_terminal(MIN_SIZE[0] - 1, MIN_SIZE[1])
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)  # the check still happens, once the storm is over
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        gate.set()
        await pilot.press("q")
    faulthandler.cancel_dump_traceback_later()
    assert app.return_code == 0


# ---------------------------------------------------------------- the real app in tmux: signals, q, storms

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
MOUSE_FLAGS = "#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag}#{mouse_utf8_flag}"
PANE_FLAGS = f"#{{alternate_on}} #{{cursor_flag}} {MOUSE_FLAGS}"
RESTORED = "0 1 00000"  # main screen, cursor shown, no mouse reporting
FIRST_PAINT = "reading files"


class Pane:
    """The real app (``python -m tui.cli`` through :data:`APP_LAUNCHER`) in a tmux pane of its own server.

    The pane runs a shell script that saves ``stty -g``, runs the app, prints ``EXITED <status>``, saves
    ``stty -g`` again and waits; ``prelude`` is Python run in the app process before the CLI (to make it
    crash or hang); ``stall`` makes the analysis process block (``fifo:PATH``) or spin (``busy``).
    """

    def __init__(self, folder: Path, *, stall: str = "", prelude: str = "", size: str = "100x30") -> None:
        self.folder = folder
        self.socket = f"emergence-test-{uuid.uuid4().hex[:12]}"  # a tmux server of its own
        launch = folder / "launch.py"
        launch.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n{prelude}\n{APP_LAUNCHER}\n")
        script = folder / "run.sh"
        stall_env = f"STALL={shlex.quote(stall)} " if stall else ""
        script.write_text(
            "#!/bin/sh\n"
            f"cd {shlex.quote(str(ROOT))}\n"
            f"stty -g > {folder}/before\n"
            f"{stall_env}{shlex.quote(sys.executable)} {launch}\n"
            'echo "EXITED $?"\n'
            f"stty -g > {folder}/after\n"
            "sleep 120\n"
        )
        script.chmod(0o755)
        width, height = size.split("x")
        self.tmux("new-session", "-d", "-s", "app", "-x", width, "-y", height, str(script))
        self.shell = int(self.tmux("display", "-p", "-t", "app", "#{pane_pid}"))
        self.app = self.wait_for_child(self.shell, "launch.py")
        self.worker: int | None = None

    def tmux(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, (args[:3], result.stderr)
        return result.stdout.strip()

    def wait_for_child(self, pid: int, marker: str, seconds: float = 15) -> int:
        """The child of ``pid`` whose command line holds ``marker`` (not a passing ``stty``)."""
        found: list[int] = []

        def look() -> bool:
            found[:] = [child for child in children(pid) if marker in command_line(child)]
            return bool(found)

        assert wait_until(look, seconds), f"no child of {pid} with {marker!r} in its command line"
        return found[0]

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def flags(self) -> str:
        return self.tmux("display", "-p", "-t", "app", PANE_FLAGS)

    def wait_for(self, text: str, seconds: float) -> None:
        assert wait_until(lambda: text in self.text(), seconds, step=0.1) is not None, (text, self.text())

    def painted(self) -> Pane:
        """Wait for the first frame, then note the analysis process's pid."""
        self.wait_for(FIRST_PAINT, 15)
        self.worker = self.wait_for_child(self.app, "main()")  # CHILD_MAIN
        return self

    def exit_status(self, seconds: float = 10) -> int:
        self.wait_for("EXITED", seconds)
        return int(re.search(r"EXITED (\d+)", self.text()).group(1))

    def terminal_restored(self) -> None:
        assert self.flags() == RESTORED, self.flags()
        before, after = self.folder / "before", self.folder / "after"
        assert wait_until(after.exists, 5) is not None
        assert after.read_text() == before.read_text(), "stty settings changed (raw mode left on)"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.tmux("kill-server")
        for pid in (self.worker, self.app):
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def pane_factory(tmp_path: Path) -> Iterator:
    panes: list[Pane] = []

    def make(**kwargs) -> Pane:
        pane = Pane(tmp_path, **kwargs)
        panes.append(pane)
        return pane

    yield make
    for pane in panes:
        pane.close()


@needs_tmux
@pytest.mark.xdist_group("tmux")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_while_loading_restores_the_terminal_and_ends_the_worker(pane_factory, signum) -> None:
    pane = pane_factory(stall="busy").painted()  # the analysis process is busy: loading never ends
    assert pane.flags() != RESTORED  # the app has the alternate screen, mouse and a hidden cursor
    os.kill(pane.app, signum)
    assert pane.exit_status(5) == 128 + signum
    pane.terminal_restored()
    assert not alive(pane.app) and not alive(pane.worker)


@needs_tmux
@pytest.mark.xdist_group("tmux")
def test_a_signal_with_the_main_thread_stuck_still_restores_the_terminal(pane_factory) -> None:
    """The app's loop never runs again (a stuck layout): the forced exit restores the terminal itself."""
    prelude = (
        "from tui import app as _app\n"
        "def _spin():\n    while True:\n        pass\n"
        "_app.EmergenceApp.on_ready = lambda self: self.set_timer(1.0, _spin)"
    )
    pane = pane_factory(prelude=prelude, stall="busy").painted()
    time.sleep(1.5)  # into the endless loop
    started = time.monotonic()
    os.kill(pane.app, signal.SIGTERM)
    assert pane.exit_status(8) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5
    pane.terminal_restored()
    assert not alive(pane.app) and not alive(pane.worker)


@needs_tmux
@pytest.mark.xdist_group("tmux")
def test_a_crash_restores_the_terminal_and_ends_the_worker(pane_factory) -> None:
    prelude = (
        "from tui import app as _app\n"
        "def _crash():\n    raise ZeroDivisionError('boom')\n"
        "_app.EmergenceApp.on_ready = lambda self: self.set_timer(1.0, _crash)"
    )
    pane = pane_factory(prelude=prelude, stall="busy").painted()
    assert pane.exit_status(8) == 1
    pane.terminal_restored()
    assert "ZeroDivisionError" in pane.text()  # Textual's traceback, printed on the restored screen
    assert not alive(pane.worker)


@needs_tmux
@pytest.mark.xdist_group("tmux")
def test_sigkill_leaves_no_worker(pane_factory) -> None:
    pane = pane_factory(stall="busy").painted()
    os.kill(pane.app, signal.SIGKILL)
    assert wait_until(lambda: not alive(pane.worker), 3) is not None, "the analysis process outlived the app"


@needs_tmux
@pytest.mark.xdist_group("tmux")
@pytest.mark.parametrize("stall", ["fifo", "busy"])
def test_q_quits_within_a_second_while_the_worker_is_blocked(pane_factory, stall: str, fifo: Path) -> None:
    pane = pane_factory(stall=f"fifo:{fifo}" if stall == "fifo" else "busy").painted()
    time.sleep(1.5)  # the load request is in flight, the app's own imports (the views, in a thread) done
    assert FIRST_PAINT in pane.text() and alive(pane.worker)
    started = time.monotonic()
    pane.tmux("send-keys", "-t", "app", "q")
    took = wait_until(lambda: not alive(pane.app), 5)
    assert took is not None and time.monotonic() - started < 1.0, took
    assert pane.exit_status(2) == 0
    pane.terminal_restored()
    assert not alive(pane.worker)


@needs_tmux
@pytest.mark.xdist_group("tmux")
def test_a_resize_storm_in_a_real_terminal_leaves_keys_answered(pane_factory) -> None:
    pane = pane_factory().painted()  # the sample data, loading for real
    storm: list[str] = []
    for i in range(150):
        size = ("40", "10") if i % 2 else (str(90 + i % 30), str(25 + i % 10))
        storm += ["resize-window", "-t", "app", "-x", size[0], "-y", size[1], ";"]
    started = time.monotonic()
    pane.tmux(*storm, "resize-window", "-t", "app", "-x", "100", "-y", "30")
    pane.tmux("send-keys", "-t", "app", "?")
    pane.wait_for("(Esc closes;", 15)
    assert time.monotonic() - started < 15
    assert "terminal too small" not in pane.text()
    pane.tmux("send-keys", "-t", "app", "q")  # q closes the help (Escape then q could arrive as alt+q)
    assert wait_until(lambda: "(Esc closes;" not in pane.text(), 5, step=0.1) is not None
    pane.tmux("send-keys", "-t", "app", "q")
    assert pane.exit_status(5) == 0
    pane.terminal_restored()
    assert not alive(pane.worker)
