"""Screenshots of the app's screens on real data, as PNG files to look at (issue 17).

``uv run python scripts/screenshots.py [PATH ...] --out DIR [--size 80x24]`` runs the app headless with the
in-process backend, opens the overview, the first task view, its mirage view and the lab, and writes each as
SVG and, when ``rsvg-convert`` is installed (Debian: librsvg2-bin), PNG. Textual's SVG lacks
``xml:space="preserve"`` on its root, without which rsvg-convert collapses the runs of spaces in the text.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
from pathlib import Path

from analysis.options import ResampleSettings
from tui.app import EmergenceApp
from tui.backend.in_process import AnalysisBackend
from tui.state import ViewSettings


def save(app: EmergenceApp, out: Path, name: str) -> Path:
    svg = out / f"{name}.svg"
    text = app.export_screenshot()
    svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")
    if shutil.which("rsvg-convert"):
        png = svg.with_suffix(".png")
        subprocess.run(["rsvg-convert", "-o", str(png), str(svg)], check=True)
        return png
    return svg


async def shoot(paths: list[str], out: Path, size: tuple[int, int], keys: list[str]) -> list[Path]:
    settings = ViewSettings(resample=ResampleSettings(bootstrap=200, seed=0))
    app = EmergenceApp(paths, backend=AnalysisBackend(), settings=settings)
    shots = []
    async with app.run_test(size=size) as pilot:

        async def settle() -> None:
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)

        await settle()
        if keys:
            await pilot.press(*keys)
            await settle()
        shots.append(save(app, out, "overview"))
        await pilot.press("enter")
        await settle()
        shots.append(save(app, out, "task"))
        await pilot.press("m")
        await settle()
        shots.append(save(app, out, "mirage"))
        await pilot.press("escape", "L")
        await settle()
        shots.append(save(app, out, "lab"))
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--keys", default="", help="keys pressed on the overview first, space-separated")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))
    for shot in asyncio.run(shoot(args.paths, out, (width, height), args.keys.split())):
        print(shot)


if __name__ == "__main__":
    main()
