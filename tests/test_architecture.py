"""The package's shape (``docs/architecture.md``): imports point down the layers, no cycles, a small root.

Every import of every module is read from the source (``ast``, nothing is executed), deferred
imports inside functions included: a deferred import is still a dependency, it only hides a cycle.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sknas"

#: The layers, lowest first. A module may import its own part (the same sub-package or root module)
#: and the layers below; never a layer above (docs/architecture.md draws the same map).
LAYERS = [
    {"config", "_runtime"},
    {"space"},
    {"preprocessing", "training"},
    {"evaluation"},
    {"io", "warmstart", "metrics", "datasets"},
    {"base"},
    {"search", "neural_map"},
    {"reporting"},
    {"autosegment"},
    {"cli", "__main__", "__init__"},
]
#: Deferred imports of the package itself, each needed at call time only and acyclic at import time.
UPWARD_ALLOWED = {
    ("io.persistence", "__init__"): "load rebuilds only the public classes: it reads sknas.__all__",
    ("io.provenance", "__init__"): "provenance records sknas.__version__",
}
MAX_ROOT_MODULES = 10


def _module_name(path):
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts)  # "search.darts", "io.__init__", "base"


def _modules():
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(importer, level, target, modules):
    """The sknas module (our dotted name, without "sknas.") an import statement names, or None."""
    if level == 0:
        if target != "sknas" and not target.startswith("sknas."):
            return None
        name = target[len("sknas."):] if target != "sknas" else ""
    else:
        package = importer.split(".")[:-1]  # "io.__init__" -> ["io"]; "search.darts" -> ["search"]
        base = package[:len(package) - (level - 1)]
        name = ".".join(base + ([target] if target else []))
    if name in modules:
        return name
    if (f"{name}.__init__" if name else "__init__") in modules:
        return f"{name}.__init__" if name else "__init__"
    return None


def _imports(modules):
    """``{module: {(imported module, deferred)}}`` over sknas's own modules."""
    out = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        deferred_nodes = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                          for n in ast.walk(f)}
        found = set()
        for node in ast.walk(tree):
            deferred = id(node) in deferred_nodes
            if isinstance(node, ast.Import):
                targets = [(0, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                # "from . import plotting" names a module; "from .base import X" names base
                targets = [(node.level, node.module)] + [
                    (node.level, f"{node.module}.{a.name}" if node.module else a.name) for a in node.names]
            else:
                continue
            for level, target in targets:
                resolved = _resolve(name, level, target, modules)
                if resolved is not None and resolved != name:
                    found.add((resolved, deferred))
        out[name] = found
    return out


def _part(module):
    """The layer unit a module belongs to: its sub-package, or itself at the root."""
    return module.split(".")[0]


def _layer(module):
    part = _part(module)
    for i, layer in enumerate(LAYERS):
        if part in layer:
            return i
    raise AssertionError(f"sknas.{module} is in no layer: add it to LAYERS and to docs/architecture.md")


MODULES = _modules()
IMPORTS = _imports(MODULES)


def _packages_on_the_way(importer, module):
    """Importing sknas.a.b runs sknas/a/__init__.py first, unless the importer is inside sknas.a (then
    that package is already being initialised); the root package's own init is always running."""
    parts = module.split(".")[:-1]
    inits = {".".join(parts[:i]) + ".__init__" for i in range(1, len(parts) + 1)} - {module}
    return {i for i in inits if not importer.startswith(i[:-len("__init__")])}


def test_at_most_ten_modules_at_the_root():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module):
    for imported, deferred in IMPORTS[module]:
        if _part(imported) == _part(module):
            continue
        if (module, imported) in UPWARD_ALLOWED and deferred:
            continue
        assert _layer(imported) <= _layer(module), (
            f"sknas.{module} (layer {_layer(module)}) imports sknas.{imported} (layer {_layer(imported)})")


def _graph(imports):
    """Module-level import edges, with the packages each import initialises on the way."""
    graph = {m: {i for i, deferred in found if not deferred or (m, i) not in UPWARD_ALLOWED}
             for m, found in imports.items()}
    for m in graph:
        for imported in list(graph[m]):
            graph[m] |= _packages_on_the_way(m, imported)
        graph[m].discard(m)
    return graph


def _cycle(graph):
    """One import cycle of ``graph`` as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle():
    cycle = _cycle(_graph(IMPORTS))
    assert cycle is None, "import cycle: " + " -> ".join(f"sknas.{c}" for c in cycle)


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The walk is honest: a planted cycle and a planted upward import are found."""
    (tmp_path / "space").mkdir()
    (tmp_path / "space" / "__init__.py").write_text("")
    (tmp_path / "space" / "a.py").write_text("from ..base import X\n")
    (tmp_path / "base.py").write_text("from .space.a import Y\n")
    modules = {_module_name_under(tmp_path, p): p for p in tmp_path.rglob("*.py")}
    imports = _imports_under(tmp_path, modules)
    assert ("base", False) in imports["space.a"] and _layer("base") > _layer("space.a")
    assert _cycle(_graph(imports)) == ["base", "space.a", "base"]
    # the transfer <-> zoo cycle issue 24 found, through a deferred import
    assert _cycle(_graph({"warmstart.transfer": {("warmstart.zoo", True)},
                          "warmstart.zoo": {("warmstart.transfer", True)}})) is not None


def _module_name_under(root, path):
    return ".".join(path.relative_to(root).with_suffix("").parts)


def _imports_under(root, modules):
    global PACKAGE
    saved, PACKAGE = PACKAGE, root
    try:
        return _imports(modules)
    finally:
        PACKAGE = saved
