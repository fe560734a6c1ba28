"""The house's shape, checked: imports run one way, modules stay small, score math imports no model.

The import graph is read from the source (every ``import``, at module level or inside a
function), so a cycle dodged by a late import is still a cycle here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import movierec

SRC = Path(movierec.__file__).parent
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The movierec modules `name` imports (a package import counts as its __init__)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
    return found


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    # a package importing its own submodules (its __init__ re-exporting them) is not a cycle
    graph = {name: {t for t in targets if not t.startswith(name + ".")} for name, targets in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_score_math_imports_no_model_and_evaluation_no_config():
    modules = _modules()
    for name, path in modules.items():
        imported = _imports(name, path, set(modules))
        if name.startswith("movierec.ensemble"):
            assert not {m for m in imported if m.startswith("movierec.models")}, f"{name} imports a model"
        if name.startswith("movierec.evaluate"):
            assert not imported & {"movierec.config", "movierec.pipeline"}, f"{name} reads the run config"
        if name.startswith(("movierec.models.popularity", "movierec.models.ease")):
            # the closed forms are numpy/scipy; torch serves them only as the scoring kernel
            assert "torch" not in path.read_text(), f"{name} must not import torch (the kernel is models.products)"


def test_modules_stay_small_and_docstrings_point_at_no_journal():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= MAX_LINES, f"{path.relative_to(SRC)}: over {MAX_LINES} lines"
        assert "docs/issue" not in text, f"{path.relative_to(SRC)} points at a journal"
