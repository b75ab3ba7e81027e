"""The import layout of the ``hpogrid`` tree, read from its source with :mod:`ast` (nothing is imported).

Every import counts wherever it stands - module level, inside functions (lazy), under ``if
TYPE_CHECKING`` or ``try`` - and so do modules named by a whole string constant
(``importlib.import_module("hpogrid.x")``, lazy tables such as ``_EXPORTS`` or the CLI's
``"hpogrid.cli.configs:hpo_config"``). ``from hpogrid.pkg import name`` is an import of the
submodule ``hpogrid.pkg.name`` when there is one, else of ``hpogrid.pkg`` (its ``__init__``);
importing ``a.b.c`` is not counted as importing ``a.b``'s ``__init__``. The rules:

* every ``hpogrid`` import names a module of the tree;
* no import cycles between modules (a package's ``__init__`` is a module; a lazy table of an
  ``__init__`` naming its own submodules is not an import and does not count for this rule);
* a private module ``hpogrid.A._b`` is imported only from inside ``hpogrid.A``; other
  packages use what ``hpogrid.A`` re-exports;
* layers point one way (:data:`LAYERS`): a module imports its own layer or lower ones, and only
  ``hpogrid.__main__`` imports ``hpogrid.cli``.
"""
from __future__ import annotations

import ast
import collections
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import pytest

TREE = Path(__file__).resolve().parents[1] / "hpogrid"

#: Top-level modules and packages of hpogrid, bottom layer first. A module may import modules
#: of its own layer and of lower ones. Measured against the tree: every dependency between
#: them already points down this list, so it is the order first proposed, unchanged:
#: - study (the trial store) needs only the bottom; space and search build on each other in
#:   that order (search's codec and adapters read a space, never the reverse);
#: - objective (training-script wrapper) needs search's encoding; configs validates against
#:   search.names, space and objective.program, so configs sits above objective;
#: - configs and project share a layer: a project snapshots configs (project -> configs,
#:   never back);
#: - engine drives trials through study/search/objective; grid (PanDA, Rucio clients) reads
#:   projects; backends run the engine, panda uses grid; report and workflow read everything
#:   below (workflow runs backends) and nothing below imports them; cli is the top.
LAYERS: Tuple[Tuple[str, ...], ...] = (
    ("hpogrid", "hpogrid.__main__", "hpogrid.errors", "hpogrid.names", "hpogrid.paths", "hpogrid.fileio",
     "hpogrid.jsontext", "hpogrid.yamltext", "hpogrid.datafile", "hpogrid.csvtext",
     "hpogrid.settings", "hpogrid.trial", "hpogrid.echo", "hpogrid.lazy", "hpogrid.progress", "hpogrid.objectives",
     "hpogrid.pareto", "hpogrid.integrations", "hpogrid.budgets", "hpogrid.containers"),
    ("hpogrid.study",),
    ("hpogrid.space",),
    ("hpogrid.search",),
    ("hpogrid.objective",),
    ("hpogrid.configs", "hpogrid.project"),
    ("hpogrid.engine",),
    ("hpogrid.grid",),
    ("hpogrid.backends",),
    ("hpogrid.report", "hpogrid.workflow", "hpogrid.quickstart", "hpogrid.drivers"),
    ("hpogrid.dashboard",),
    ("hpogrid.cli",),
)
#: (importer, imported) top-level pairs allowed although they point up: the entry point runs the CLI
ALLOWED_UP = {("hpogrid.__main__", "hpogrid.cli"),
              # hpogrid.optimize (the notebook API), hpogrid.space.loguniform(...) and
              # hpogrid.study.load(...) are the package's own attributes, loaded on first use
              ("hpogrid", "hpogrid.quickstart"), ("hpogrid", "hpogrid.space"), ("hpogrid", "hpogrid.study")}
#: imported only by the entry point
TOP = "hpogrid.cli"


@dataclass(frozen=True)
class Module:
    name: str  # dotted; a package's __init__ has the package's name
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    importer: Module
    target: str  # dotted module name as resolved (may be missing from the tree)
    line: int
    by_name: bool  # named in a string constant (import_module, lazy table), not an import statement
    names: Tuple[str, ...] = ()  # of ``from target import ...`` (not when they are submodules)

    def where(self, root: Path) -> str:
        what = f"{', '.join(self.names)} from {self.target}" if self.names else self.target
        how = " (by name)" if self.by_name else ""
        return f"{self.importer.path.relative_to(root).as_posix()}:{self.line} imports {what}{how}"


def find_modules(tree: Path) -> Dict[str, Module]:
    modules = {}
    for path in sorted(tree.rglob("*.py")):
        parts = list(path.relative_to(tree.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = Module(".".join(parts), path, is_package)
    return modules


def _resolve_from(node: ast.ImportFrom, module: Module) -> Optional[str]:
    if not node.level:
        return node.module
    base = module.package.split(".")
    if node.level - 1 >= len(base):
        return None  # beyond the top package: Python rejects it too
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _in_tree(name: Optional[str], root: str) -> bool:
    return bool(name) and (name == root or name.startswith(root + "."))


def read_imports(modules: Dict[str, Module], root: str) -> List[Import]:
    """Every import of a module of package ``root`` by the modules, with its line."""
    found = []
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [Import(module, alias.name, node.lineno, False) for alias in node.names
                          if _in_tree(alias.name, root)]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_from(node, module)
                if not _in_tree(base, root):
                    continue
                names = [alias.name for alias in node.names]
                found += [Import(module, f"{base}.{name}", node.lineno, False) for name in names
                          if f"{base}.{name}" in modules]
                names = tuple(name for name in names if f"{base}.{name}" not in modules)
                if names:
                    found.append(Import(module, base, node.lineno, False, names))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = node.value.split(":")[0]
                if _in_tree(name, root) and name in modules and name != root:
                    found.append(Import(module, name, node.lineno, True))
    return found


def top_level(name: str, root: str) -> str:
    parts = name.split(".")
    return root if len(parts) == 1 else ".".join(parts[:2])


def private_owner(name: str) -> Optional[str]:
    """``hpogrid.A`` for ``hpogrid.A._b`` (and ``hpogrid.A._b.c``); None for a public module."""
    parts = name.split(".")
    for i, part in enumerate(parts[1:], 1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def strongly_connected(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (iterative Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def a_cycle(graph: Dict[str, Set[str]], component: Sequence[str]) -> List[str]:
    """A shortest cycle through the component's first module, staying inside the component."""
    inside = set(component)
    start = component[0]
    came_from = {start: None}
    queue = collections.deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & inside):
            if child == start:
                path = [node]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                return list(reversed(path)) + [start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component has one


def cycle_report(imports: Iterable[Import], root: Path) -> List[str]:
    edges: Dict[Tuple[str, str], List[Import]] = collections.defaultdict(list)
    for imp in imports:
        own_lazy_table = imp.by_name and imp.importer.is_package and imp.target.startswith(imp.importer.name + ".")
        if imp.target != imp.importer.name and not own_lazy_table:
            edges[imp.importer.name, imp.target].append(imp)
    graph: Dict[str, Set[str]] = collections.defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
        graph.setdefault(target, set())
    lines = []
    for component in strongly_connected(graph):
        cycle = a_cycle(graph, component)
        lines.append(f"cycle among {len(component)} modules {', '.join(component)}; one of its loops: "
                     + " -> ".join(cycle))
        for source, target in zip(cycle, cycle[1:]):
            lines += [f"    {imp.where(root)}" for imp in edges[source, target]]
    return lines


def layer_of(unit: str) -> Optional[int]:
    for i, layer in enumerate(LAYERS):
        if unit in layer:
            return i
    return None


@functools.lru_cache(maxsize=None)
def tree_imports() -> Tuple[Dict[str, Module], Tuple[Import, ...]]:
    modules = find_modules(TREE)
    return modules, tuple(read_imports(modules, TREE.name))


def _fail(lines: List[str], what: str) -> None:
    if lines:
        pytest.fail(f"{len(lines)} {what}:\n" + "\n".join(lines), pytrace=False)


def test_every_import_names_a_module_of_the_tree():
    modules, imports = tree_imports()
    _fail([imp.where(TREE.parent) for imp in imports if imp.target not in modules],
          "imports of modules that do not exist")


def test_no_import_cycles():
    _, imports = tree_imports()
    lines = cycle_report(imports, TREE.parent)
    _fail(lines, "lines on import cycles (move what both sides need into a module both import)")


def test_private_modules_are_imported_only_inside_their_package():
    _, imports = tree_imports()
    lines = []
    for imp in imports:
        owner = private_owner(imp.target)
        if owner is not None and not _in_tree(imp.importer.name, owner):
            lines.append(f"{imp.where(TREE.parent)}, private to {owner} "
                         f"(re-export the name from {owner} and import it from there)")
    _fail(lines, "imports of another package's private module")


def test_layers_point_down():
    modules, imports = tree_imports()
    units = {top_level(name, TREE.name) for name in modules}
    _fail(sorted(f"{unit} is in no layer of LAYERS" for unit in units if layer_of(unit) is None),
          "top-level modules without a layer (place them in LAYERS)")
    lines = []
    for imp in imports:
        source, target = top_level(imp.importer.name, TREE.name), top_level(imp.target, TREE.name)
        if source == target or (source, target) in ALLOWED_UP:
            continue
        if target == TOP:
            lines.append(f"{imp.where(TREE.parent)}: only hpogrid.__main__ may import {TOP}")
        elif layer_of(source) < layer_of(target):
            lines.append(f"{imp.where(TREE.parent)}: {source} (layer {layer_of(source)}) may not import "
                         f"{target} (layer {layer_of(target)})")
    _fail(lines, "imports pointing up the layers")


# --- the reader itself, on a small tree ---------------------------------------------------------

def _write(root: Path, files: Dict[str, str]) -> Dict[str, Module]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return find_modules(root / "pkg")


def test_reader_sees_lazy_relative_and_named_imports(tmp_path):
    modules = _write(tmp_path, {
        "pkg/__init__.py": "_EXPORTS = {'A': 'pkg.a'}\n",
        "pkg/a.py": "def f():\n    from . import b\n    from .sub import _priv, name\n",
        "pkg/b.py": "import importlib\nimportlib.import_module('pkg.sub._priv')\nimport os\n",
        "pkg/sub/__init__.py": "from ._priv import name\nfrom .. import a\n",
        "pkg/sub/_priv.py": "try:\n    import pkg.b as b\nexcept ImportError:\n    pass\nfrom pkg import missing\n",
    })
    found = {(imp.importer.name, imp.target, imp.line, imp.by_name) for imp in read_imports(modules, "pkg")}
    assert found == {
        ("pkg", "pkg.a", 1, True),
        ("pkg.a", "pkg.b", 2, False), ("pkg.a", "pkg.sub._priv", 3, False), ("pkg.a", "pkg.sub", 3, False),
        ("pkg.b", "pkg.sub._priv", 2, True),
        ("pkg.sub", "pkg.sub._priv", 1, False), ("pkg.sub", "pkg.a", 2, False),
        ("pkg.sub._priv", "pkg.b", 2, False), ("pkg.sub._priv", "pkg", 5, False),
    }
    assert private_owner("pkg.sub._priv") == "pkg.sub" and private_owner("pkg.sub.name") is None
    assert top_level("pkg.sub._priv", "pkg") == "pkg.sub" and top_level("pkg", "pkg") == "pkg"


def test_cycles_are_found_and_own_lazy_tables_are_not_imports(tmp_path):
    modules = _write(tmp_path, {
        "pkg/__init__.py": "_EXPORTS = {'X': 'pkg.x'}\n",
        "pkg/x.py": "import pkg\nfrom pkg import y\n",
        "pkg/y.py": "def f():\n    from pkg.z import g\n",
        "pkg/z.py": "from . import x\n",
    })
    report = cycle_report(read_imports(modules, "pkg"), tmp_path)
    assert report[0] == "cycle among 3 modules pkg.x, pkg.y, pkg.z; one of its loops: pkg.x -> pkg.y -> pkg.z -> pkg.x"
    assert report[1:] == ["    pkg/x.py:2 imports pkg.y", "    pkg/y.py:2 imports g from pkg.z",
                          "    pkg/z.py:1 imports pkg.x"]

    (tmp_path / "pkg" / "__init__.py").write_text("from pkg.x import X\n", encoding="utf-8")  # a real import
    report = cycle_report(read_imports(modules, "pkg"), tmp_path)
    assert report[0].startswith("cycle among 4 modules pkg, pkg.x, pkg.y, pkg.z; ")
