"""Import rules the structure depends on, which a refactor could otherwise break without a failing test.

- First paint: importing the app and building it loads no polars, numpy or scipy (they load in the worker or
  the child process, after the first frame); neither do the analysis modules it imports before its first paint
  (``analysis.stages``, ``analysis.options``, ``analysis.formatting``); ``analysis.fits``,
  ``analysis.resampling``, ``analysis.mirage``, ``analysis.forecasts`` and ``analysis.sweep``, whose results
  the interface process unpickles, load no scipy. Checked in a fresh interpreter by looking at
  ``sys.modules``, the only way to see that a deferred import really defers (harlequin's
  ``test_import_hygiene.py`` does the same).
- Layers: ``analysis`` imports neither ``tui`` nor ``benchmarks`` nor Textual; ``tui`` imports ``analysis``
  only; ``benchmarks`` may import both. Read from the source (every ``import``, also those inside functions),
  so the arrows between the packages run one way and no cycle can form between them.
- Inside ``analysis`` the imports between modules (read with ``ast``, at any depth, except annotation-only
  imports under ``TYPE_CHECKING``) have no cycle, neither between modules nor between its packages.
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
HEAVY = ("polars", "numpy", "scipy", "matplotlib")  # matplotlib: only when a figure is written
ANALYSIS = ROOT / "analysis"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(path) for path in ANALYSIS.rglob("*.py"))


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
        ("import tui.figure, tui.export, tui.screens.warnings", "textual"),
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


@pytest.mark.parametrize("module", ["analysis", "analysis.stages", "analysis.options", "analysis.formatting"])
def test_what_the_app_imports_before_first_paint_loads_no_numeric_library(module: str) -> None:
    assert not {"polars", "numpy", "scipy"} & loaded_after(f"import {module}")


def test_the_interface_process_reads_fit_results_without_scipy() -> None:
    loaded = loaded_after(
        "import analysis.fits, analysis.resampling, analysis.mirage, analysis.schema, analysis.forecasts, "
        "analysis.sweep"
    )
    assert "numpy" in loaded and "scipy" not in loaded


def _imports(path: Path) -> set[str]:
    """The analysis modules that ``path`` imports (any depth; annotation-only TYPE_CHECKING blocks aside)."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            ):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            assert node.level == 0, f"{path}: relative import"
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else str(node.module))

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


GRAPH = {_module_name(path): _imports(path) for path in ANALYSIS.rglob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _unit(module: str) -> str:
    """The package (analysis.fits, ...) or top-level module (analysis.pipeline) a module belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_import_cycle_between_analysis_modules_or_packages() -> None:
    modules = {name: {i for i in imports if i in GRAPH and i != name} for name, imports in GRAPH.items()}
    assert _cycle(modules) is None
    units: dict[str, set[str]] = {}
    for name, imports in modules.items():
        units.setdefault(_unit(name), set()).update(_unit(i) for i in imports if _unit(i) != _unit(name))
    assert _cycle(units) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check finds one
