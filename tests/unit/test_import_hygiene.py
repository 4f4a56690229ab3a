"""Import rules the structure depends on, which a refactor could otherwise break without a failing test.

- First paint: importing the app and building it loads no polars, numpy or scipy (they load in the worker or
  the child process, after the first frame). Checked in a fresh interpreter by looking at ``sys.modules``, the
  only way to see that a deferred import really defers (harlequin's ``test_import_hygiene.py`` does the same).
- Layers: ``analysis`` imports neither ``tui`` nor ``benchmarks`` nor Textual; ``tui`` imports ``analysis``
  only; ``benchmarks`` may import both. Read from the source (every ``import``, also those inside functions),
  so the arrows between the packages run one way and no cycle can form between them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("analysis", "tui", "benchmarks")
LAYERS = {"analysis": set(), "tui": {"analysis"}, "benchmarks": {"analysis", "tui"}}  # what each may import
HEAVY = ("polars", "numpy", "scipy")


def loaded_after(code: str) -> set[str]:
    """The top-level package names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    report = "import sys\nprint(' '.join({name.split('.')[0] for name in sys.modules}))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("code", "sign"),  # ``sign``: a package the statement must have imported, so the check sees its work
    [
        ("import tui.app", "textual"),
        ("from tui.app import EmergenceApp; EmergenceApp()", "textual"),
        ("import tui.cli", "analysis"),
        ("from tui import cli; cli.load_options_from(cli.build_parser(None).parse_args([]))", "analysis"),
    ],
)
def test_the_app_reaches_its_first_paint_without_the_numeric_stack(code: str, sign: str) -> None:
    loaded = loaded_after(code)
    assert sign in loaded
    assert not loaded & set(HEAVY), f"{code!r} imported {sorted(loaded & set(HEAVY))}"


def test_the_analysis_core_loads_no_textual() -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "analysis").rglob("*.py")
    )
    loaded = loaded_after("\n".join(f"import {module}" for module in modules))
    assert "polars" in loaded
    assert not loaded & {"textual", "tui", "benchmarks"}, sorted(loaded & {"textual", "tui", "benchmarks"})


def imported_packages(package: str) -> dict[str, set[str]]:
    """For each module of ``package``: the packages of this project it imports (at any depth of the code)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names & set(PACKAGES) - {package}
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_between_packages_run_one_way(package: str) -> None:
    wrong = {
        module: sorted(names - LAYERS[package])
        for module, names in imported_packages(package).items()
        if names - LAYERS[package]
    }
    assert not wrong, f"{package} may import only {sorted(LAYERS[package])}: {wrong}"


def test_no_import_cycle_between_the_packages() -> None:
    """The packages' own imports (not the allowed ones) form no loop, e.g. tui -> benchmarks -> tui."""
    edges = {package: set().union(*imported_packages(package).values()) for package in PACKAGES}
    assert edges["tui"] == {"analysis"} and edges["analysis"] == set(), edges  # the check sees real arrows

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in edges[start]
        )

    assert not [package for package in PACKAGES if reaches(package, package)], edges
