"""The terminal and the analysis process, whichever way the app ends.

Textual puts the terminal in raw mode with the alternate screen, mouse reporting and a hidden cursor, and
undoes it when the app exits normally. A signal's default action (SIGTERM, SIGHUP; SIGINT raises wherever
the main thread is) would end the process without that, and leave the user's shell unusable. Here:

- :func:`require_terminal` refuses to start without a terminal (from cron, a pipe, ``nohup``), where the app
  would write escape codes forever.
- :class:`TerminalGuard` saves the terminal's settings before the app and, if the app did not restore them
  (a crash, a forced exit), restores them and writes the sequences that leave the alternate screen, turn
  mouse reporting off and show the cursor.
- :class:`ExitOnSignals` turns SIGTERM, SIGHUP and SIGINT into an orderly exit (status 128 + the signal):
  the analysis process is killed at once, the app is asked to exit, and if it has not within
  ``FORCE_AFTER_SECONDS`` (its main thread stuck, or the terminal gone) the terminal is restored here and
  the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from analysis.errors import InputError

FORCE_AFTER_SECONDS = 2.0
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
RESTORE = (
    "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1015l\x1b[?1006l"  # mouse reporting off
    "\x1b[?1004l"  # focus reporting off
    "\x1b[?2004l"  # bracketed paste off
    "\x1b[<u"  # the kitty keyboard protocol's flags popped
    "\x1b[?7h"  # line wrap on
    "\x1b[?1049l"  # the alternate screen left
    "\x1b[?25h"  # the cursor shown
)


def require_terminal(stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """Raise :class:`InputError` (one line, pointing at ``report``) unless stdin and stdout are terminals."""
    streams = {"stdin": stdin or sys.stdin, "stdout": stdout or sys.stdout}
    missing = [name for name, stream in streams.items() if not _is_tty(stream)]
    if missing:
        raise InputError(
            f"the app needs a terminal, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not one; "
            "for text output use `emergence-tui report PATH...` (--format json or csv for files)"
        )


def _is_tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed
        return False


class TerminalGuard:
    """The terminal's settings before the app, and their restoration if the app left them changed."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.in_fd = _fileno(stdin or sys.__stdin__)
        self.out_fd = _fileno(stdout or sys.__stdout__)
        self.saved: list[Any] | None = None
        if self.in_fd is not None:
            with contextlib.suppress(termios.error, OSError):
                self.saved = termios.tcgetattr(self.in_fd)

    def changed(self) -> bool:
        """Whether the terminal is not as it was (raw mode left on: the app did not restore it)."""
        if self.saved is None or self.in_fd is None:
            return False
        try:
            return termios.tcgetattr(self.in_fd) != self.saved
        except (termios.error, OSError):
            return False

    def restore(self) -> None:
        """Leave the alternate screen, mouse reporting off, cursor shown; the saved settings back.

        Never raises: the terminal may be gone (SIGHUP), and then there is nothing to restore."""
        if self.out_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.out_fd, RESTORE.encode())
        if self.saved is not None and self.in_fd is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.in_fd, termios.TCSADRAIN, self.saved)

    def restore_if_changed(self) -> bool:
        """:meth:`restore` when the app left the terminal changed; returns whether it did."""
        if self.changed():
            self.restore()
            return True
        return False


def _fileno(stream: TextIO | None) -> int | None:
    try:
        return None if stream is None else stream.fileno()
    except (ValueError, OSError):
        return None


class ExitOnSignals:
    """SIGTERM, SIGHUP and SIGINT end the app in order: analysis process killed, app exited, terminal back.

    ``exit_app(code)`` asks the app to exit (called in its event loop); ``kill_worker()`` must not wait
    for anything. A second signal, or an app that has not exited after ``force_after`` seconds, ends the
    process at once with the terminal restored.
    """

    def __init__(
        self,
        exit_app: Callable[[int], None],
        kill_worker: Callable[[], None],
        guard: TerminalGuard,
        *,
        force_after: float = FORCE_AFTER_SECONDS,
        force_exit: Callable[[int], None] = os._exit,
    ) -> None:
        self.exit_app = exit_app
        self.kill_worker = kill_worker
        self.guard = guard
        self.force_after = force_after
        self.force_exit = force_exit
        self.received: int | None = None
        self.previous: dict[int, Any] = {}
        self._done = threading.Event()

    def install(self) -> None:
        for signum in SIGNALS:
            self.previous[signum] = signal.signal(signum, self.handle)

    def uninstall(self) -> None:
        """Put the previous handlers back; a pending forced exit is called off (the app ended in time)."""
        self._done.set()
        for signum, handler in self.previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, handler)
        self.previous.clear()

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        code = 128 + signum
        with contextlib.suppress(Exception):
            self.kill_worker()
        if self.received is not None:  # a second signal: no more waiting
            self.force(code)
            return
        self.received = signum
        try:
            loop = asyncio.get_running_loop()  # the handler runs in the main thread, the app's loop's
        except RuntimeError:
            loop = None
        if loop is None or loop.is_closed():
            self.force(code)
            return
        loop.call_soon_threadsafe(self.exit_app, code)
        threading.Thread(target=self._force_later, args=(code,), name="force-exit", daemon=True).start()

    def _force_later(self, code: int) -> None:
        deadline = time.monotonic() + self.force_after
        if not self._done.wait(max(deadline - time.monotonic(), 0)):
            self.force(code)

    def force(self, code: int) -> None:
        """End the process now, the terminal restored if the app left it changed."""
        self._done.set()
        self.guard.restore_if_changed()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        self.force_exit(code)
