"""An analysis process whose loading never finishes: the real child with ``load`` replaced by a stall.

``STALL=fifo:PATH`` reads a FIFO no one writes to (a read blocked on a slow or hung file); ``STALL=busy``
spins in Python (a stage that runs for a long time). Used as ``tui.backend.process.CHILD_MAIN`` by the
robustness tests, in the test process or in an app started by a launcher (:data:`APP_LAUNCHER`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

CHILD_MAIN = "import sys; from tests.robustness.stalled_child import main; sys.exit(main())"
# `python -c APP_LAUNCHER ARGS...` runs the real CLI with the stalled child
APP_LAUNCHER = (
    "import sys; import tui.backend.process as p; "
    f"p.CHILD_MAIN = {CHILD_MAIN!r}; "
    "from tui.cli import main; sys.argv[0] = 'emergence-tui'; sys.exit(main())"
)


def stall(*args: Any) -> Any:
    how = os.environ.get("STALL", "busy")
    if how.startswith("fifo:"):
        with open(how.removeprefix("fifo:"), "rb") as fifo:  # blocks in open() until a writer comes
            return fifo.read()
    while True:
        sum(range(1000))


def main() -> int:
    import analysis.loading
    from tui.backend import process

    analysis.loading.load = stall  # serve() imports it by name at each "load" request
    return process.main(sys.argv[1:])
