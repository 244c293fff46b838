"""The package layout: no import cycle between project modules, and the light packages stay light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("probtalk", "exporters", "flame_assets")


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The project module that ``name`` (a module or a name inside one) resolves to."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_time_edges(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that importing ``module`` imports directly (module level; TYPE_CHECKING and
    imports inside functions left out, since they run later or never)."""
    edges: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                edges.update(filter(None, (_owner(a.name, modules) for a in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    target = _owner(f"{base}.{alias.name}", modules) if f"{base}.{alias.name}" in modules else None
                    edges.update(filter(None, (target or _owner(base, modules),)))
            for field in ("body", "orelse", "handlers", "finalbody"):
                visit(getattr(node, field, []) or [])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    edges.discard(module)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_project_modules():
    modules = project_modules()
    assert "probtalk.corpus.tts" in modules and "probtalk.rendering.api" in modules
    graph = {name: import_time_edges(name, path, modules) for name, path in modules.items()}
    assert "probtalk.corpus.espeak" in graph["probtalk.corpus.tts"]  # the edges are read
    assert cycles(graph) == []


def test_light_packages_import_without_torch():
    """``import probtalk`` and the corpus, data and layout modules do not pull in torch (fast CLI start)."""
    code = (
        "import sys\n"
        "import probtalk, probtalk.corpus, probtalk.corpus.tts, probtalk.data, probtalk.layout, probtalk.animation\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'moderngl') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
