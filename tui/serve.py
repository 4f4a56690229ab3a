"""`emergence-tui serve`: the same app in a web browser, through textual-serve (Textual's own web server).

Each browser tab that opens the page starts ``python -m tui.cli PATH... [options]`` (the app, with the same
files and load options) as a child of the server, with Textual's web driver instead of a terminal; keys,
resizes and the screen travel over a websocket. The server binds to 127.0.0.1 unless ``--host`` says
otherwise (anyone who can reach the port can run the app and read the files it opens), and prints the
address to open.
"""

from __future__ import annotations

import shlex
import socket
import sys
from collections.abc import Sequence

from analysis.errors import InputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SERVE_OPTIONS = ("--host", "--port")


def app_command(argv: Sequence[str]) -> str:
    """The shell command each browser session runs: the app with ``argv`` minus ``--host`` and ``--port``."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in SERVE_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{option}=" for option in SERVE_OPTIONS)):
            kept.append(arg)
    return shlex.join([sys.executable, "-m", "tui.cli", *kept])


def check_free(host: str, port: int) -> None:
    """Raise :class:`InputError` (one line) when ``host:port`` cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise InputError(f"--host: cannot find the address {host!r}: {err.strerror or err}") from err
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as err:
        raise InputError(
            f"cannot serve on {host}:{port}: {err.strerror or err}; choose another with --port or --host"
        ) from err


def serve(argv: Sequence[str], host: str, port: int) -> int:
    """Serve the app on ``host:port`` until Ctrl+C; one line on stdout gives the address."""
    if not 0 < port < 65536:
        raise InputError(f"--port: expected a port number from 1 to 65535, got {port}")
    check_free(host, port)  # before the address is printed: the server itself would fail after
    from textual_serve.server import Server

    class AppServer(Server):
        async def on_startup(self, app: object) -> None:  # one plain line instead of the logo
            print(
                f"emergence-tui: serving the app on {self.public_url} (open it in a browser; Ctrl+C stops)",
                flush=True,
            )

    server = AppServer(app_command(argv), host=host, port=port, title="emergence-tui")
    try:
        server.serve()
    except OSError as err:  # the port is taken, or the host is not an address of this machine
        raise InputError(
            f"cannot serve on {host}:{port}: {err.strerror or err}; choose another with --port or --host"
        ) from err
    return 0
