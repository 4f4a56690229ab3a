"""Where the app gets its numbers: loading and the analysis pipeline, behind one small seam.

The app never computes analysis results itself; it calls ``analysis.loading.load`` and the stages of
``analysis.pipeline.Pipeline`` one by one (imported lazily, inside worker threads, so the first frame paints
before polars and scipy are imported), so it can show progress after each stage and show the overview
before the slowest stage (the fits) is done. Tests pass their own :class:`~tui.backend.protocol.Backend` to
drive the app with known frames.

- ``protocol``: what the app needs of a backend and of its pipeline.
- ``stages``: the stage order, the early (partial) analysis, and running the stages one by one.
- ``process``: the default backend, computing in a child process.
- ``in_process``: the same stages in this process (tests, and where a child process is not wanted).
"""
