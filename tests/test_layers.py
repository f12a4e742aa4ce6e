"""The floors of the code base, and that imports only go down them.

1. the service shell: ``geo_service.app``, ``geo_service.api``, ``geo_service.cli``, ``geo_service.jobs``;
2. ``maps``;
3. the domain: ``facilities``, ``boundaries`` and ``population`` (independent of each other);
4. the foundation: ``geo_service.core`` (and the bare ``geo_service`` package, which holds only the version).

Every ``import`` statement is read from the source, those inside functions and ``if TYPE_CHECKING`` blocks
included. A module may import its own floor or a lower one, never a higher one, the domain packages never
import each other, and no chain of imports that run leads back to the module it started from (an import under
``if TYPE_CHECKING:`` never runs: it counts for the floors, not for cycles).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo_service", "maps", "facilities", "boundaries", "population")
SHELL, MAPS, DOMAIN, FOUNDATION = 1, 2, 3, 4
FLOOR_NAMES = {SHELL: "service shell", MAPS: "maps", DOMAIN: "domain", FOUNDATION: "foundation"}


def floor_of(module: str) -> int:
    """The floor (1 = top) of a module of the code base."""
    top = module.split(".")[0]
    if top == "maps":
        return MAPS
    if top in ("facilities", "boundaries", "population"):
        return DOMAIN
    if module == "geo_service" or module.startswith("geo_service.core"):
        return FOUNDATION
    return SHELL


def module_files(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name -> file (a package is its ``__init__.py``)."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if "static" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(module: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """The modules of the code base that ``module`` imports: (module, line of the statement, under TYPE_CHECKING).

    ``from a.b import c`` counts as importing ``a.b.c`` when that is a module, else ``a.b``. Relative imports are
    resolved against the module's package.
    """
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for n in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{alias.name}" for alias in node.names]
            targets = [t if t in known else origin for t in targets]
        else:
            continue
        for target in targets:
            if target.split(".")[0] not in PACKAGES:
                continue
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != module:
                found.append((target, node.lineno, id(node) in type_only))
    return found


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph(root: Path, packages=PACKAGES) -> dict[str, list[tuple[str, int, bool]]]:
    files = module_files(root, packages)
    known = set(files)
    return {m: imports_of(m, p, known) for m, p in files.items()}


def upward_imports(graph: dict[str, list[tuple[str, int, bool]]]) -> list[str]:
    """Each import that goes up a floor, or between the two domain packages, as a readable line."""
    bad = []
    for module, targets in graph.items():
        for target, line, _type_only in targets:
            a, b = floor_of(module), floor_of(target)
            if b < a:
                bad.append(f"{module}:{line} imports {target} ({FLOOR_NAMES[a]} -> {FLOOR_NAMES[b]})")
            elif a == b == DOMAIN and module.split(".")[0] != target.split(".")[0]:
                bad.append(f"{module}:{line} imports {target} (the domain packages are independent)")
    return bad


def import_cycles(graph: dict[str, list[tuple[str, int, bool]]]) -> list[list[str]]:
    """The strongly connected components of more than one module over the imports that run (Tarjan, iterative)."""
    edges = {m: sorted({t for t, _, type_only in ts if not type_only}) for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = edges.get(node, [])
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    cycles.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def test_imports_only_go_down():
    bad = upward_imports(import_graph(ROOT))
    assert not bad, "imports that go up a floor:\n" + "\n".join(bad)


def test_no_circular_imports():
    cycles = import_cycles(import_graph(ROOT))
    assert not cycles, "circular imports:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_every_module_is_read():
    modules = module_files(ROOT)
    for expected in ("geo_service.app", "geo_service.cli", "geo_service.core.storage", "maps.registry"):
        assert expected in modules
    assert not any(m.startswith("boundaries.") and m.endswith(".cli") for m in modules)
    assert not any(m.startswith("facilities.") and m.endswith(".cli") for m in modules)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expect"),
    [
        # an upward import hidden inside a function
        (
            {"geo_service/core/x.py": "def f():\n    from facilities import y\n", "facilities/y.py": ""},
            "geo_service.core.x:2 imports facilities.y (foundation -> domain)",
        ),
        # a relative import from the shell's package into the shell is fine; from maps into the shell is not
        ({"maps/m.py": "from geo_service import app\n", "geo_service/app.py": ""}, "maps.m:1 imports geo_service.app"),
        ({"boundaries/b.py": "import facilities.f\n", "facilities/f.py": ""}, "independent"),
    ],
)
def test_the_checker_finds_upward_imports(tmp_path, files, expect):
    _write(tmp_path, {"geo_service/__init__.py": "", "geo_service/core/__init__.py": "", **files})
    bad = upward_imports(import_graph(tmp_path))
    assert any(expect in line for line in bad), bad


def test_the_checker_finds_cycles(tmp_path):
    _write(
        tmp_path,
        {
            "maps/__init__.py": "",
            "maps/a.py": "def f():\n    from . import b\n",
            "maps/b.py": "from maps.a import f\n",
            "maps/c.py": "from maps import a\n",
            "maps/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from maps.e import E\n",
            "maps/e.py": "from maps.d import f\n",
        },
    )
    assert import_cycles(import_graph(tmp_path, ("maps",))) == [["maps.a", "maps.b"]]


def test_type_only_imports_still_count_for_the_floors(tmp_path):
    code = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from maps.m import M\n"
    _write(tmp_path, {"geo_service/__init__.py": "", "geo_service/core/x.py": code, "maps/m.py": ""})
    assert upward_imports(import_graph(tmp_path)) == ["geo_service.core.x:3 imports maps.m (foundation -> maps)"]


MAX_FUNCTION_LINES = 149  # the project's rule: no function of 150 lines or more


def test_no_function_of_150_lines_or_more():
    long = []
    for folder in (*PACKAGES, "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "static" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "functions over the limit:\n" + "\n".join(long)
