"""Import rules that keep first paint fast and the layers apart, checked instead of kept by convention.

* ``analysis`` never loads Textual (every module imported in one fresh interpreter, ``sys.modules`` read);
* what the app imports before its first paint (``analysis.stages``, ``analysis.options``,
  ``analysis.formatting``) loads no polars, numpy or scipy; ``analysis.fits`` and ``analysis.resampling``,
  whose results the interface process unpickles, load no scipy (they import it when they compute);
* no module of ``analysis`` imports from ``tui`` or ``benchmarks``, and the imports between the modules of
  ``analysis`` (read with ``ast``, at any depth, except annotation-only imports under ``TYPE_CHECKING``) have
  no cycle, neither between modules nor between its packages.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANALYSIS = ROOT / "analysis"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(path) for path in ANALYSIS.rglob("*.py"))


def _loaded_after(statement: str) -> set[str]:
    """Top-level package names in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = (
        f"import json, sys; {statement}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_no_analysis_module_loads_textual() -> None:
    imports = "; ".join(f"import {name}" for name in MODULES)
    loaded = _loaded_after(imports)
    assert "analysis" in loaded and "polars" in loaded  # the statement did import the modules
    assert "textual" not in loaded and "rich" not in loaded


@pytest.mark.parametrize("module", ["analysis", "analysis.stages", "analysis.options", "analysis.formatting"])
def test_what_the_app_imports_before_first_paint_loads_no_numeric_library(module: str) -> None:
    assert not {"polars", "numpy", "scipy"} & _loaded_after(f"import {module}")


def test_the_interface_process_reads_fit_results_without_scipy() -> None:
    loaded = _loaded_after("import analysis.fits, analysis.resampling, analysis.mirage, analysis.schema")
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


def test_analysis_never_imports_the_app_or_the_benchmarks() -> None:
    wrong = {
        name: sorted(i for i in imports if i.split(".")[0] in ("tui", "benchmarks"))
        for name, imports in GRAPH.items()
    }
    assert {name: found for name, found in wrong.items() if found} == {}


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
