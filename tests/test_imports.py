"""The package's layers, read from its source: no import cycle, and the analysis never reaches torch.

Every ``import`` in ``xnet/`` counts, module-level or inside a function (a lazy import only hides a
cycle).  ``xnet.runs`` and ``xnet.results`` sit below nothing that trains: they may not import
``xnet.training``, ``xnet.nn`` or ``torch``, directly or through other xnet modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "xnet"


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports (absolute names; xnet submodules named as such)."""
    path = MODULES[module]
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
            subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
            out |= subs
            if len(subs) < len(node.names):  # names from the module itself
                out.add(base)
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(GRAPH[v] & MODULES.keys()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    return found


def _reach(module: str) -> dict[str, str]:
    """Every module reachable from ``module`` -> the xnet module that imports it (for the message)."""
    seen, todo = {}, [module]
    while todo:
        m = todo.pop()
        for dep in GRAPH.get(m, ()):
            if dep not in seen:
                seen[dep] = m
                if dep in MODULES:
                    todo.append(dep)
    return seen


def test_the_walker_sees_the_package():
    assert {"xnet.runs.record", "xnet.results.gather", "xnet.training", "xnet.nn.layers"} <= MODULES.keys()
    assert "torch" in GRAPH["xnet.nn.layers"] and "xnet.runs.record" in _reach("xnet.results.gather")


def test_no_import_cycle():
    assert _cycles() == []


@pytest.mark.parametrize(
    "layer",
    [
        "xnet.runs",
        "xnet.results",
        "xnet.data.catalog",
        "xnet.data.files",
        "xnet.data.digest",
        "xnet.names",
        "xnet.seeds",
        "xnet.arguments",
    ],
)
def test_analysis_and_run_contract_never_reach_training_nn_or_torch(layer):
    bad = {}
    for module in (m for m in MODULES if m == layer or m.startswith(layer + ".")):
        for dep, via in _reach(module).items():
            if dep.split(".")[0] == "torch" or dep.startswith(("xnet.training", "xnet.nn", "xnet.models")):
                bad.setdefault(module, f"{dep} (imported by {via})")
    assert bad == {}


def test_importing_the_analysis_loads_no_torch():
    code = (
        "import sys, xnet.runs, xnet.results.gather, xnet.results.tables, xnet.data, xnet.training, "
        "xnet.training.config, xnet.arguments; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('xnet.nn')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
