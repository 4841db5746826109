"""The module graph: no import cycles in derive/ (imports inside functions count), small modules,
kind names compared nowhere but in kinds.py."""
import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "derive"
# the line guide, per package: a module longer than this is doing more than one job (split it), unless
# splitting would only scatter one job (listed with its reason)
MAX_LINES = {"": 400}
LONGER = {"problem/load.py": (480, "one job: a problem file's tables to a frozen Problem"),
          "notation/parser.py": (450, "one job: the Pratt parser, one method per construct"),
          "notation/build.py": (450, "one job: the syntax tree to SymPy, one method per construct"),
          "notation/latex_lexer.py": (420, "one job: the LaTeX lexer, one method per command family")}


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set:
    """derive modules imported anywhere in the file (top level or inside functions)."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("derive")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("derive"):
                continue
            for a in node.names:             # from . import verify: the module derive.verify
                sub = f"{target}.{a.name}"
                out.add(sub if (PKG.parent / (sub.replace(".", "/") + ".py")).exists()
                        or (PKG.parent / sub.replace(".", "/")).is_dir() else target)
    return out - {mod}


def graph() -> dict:
    return {_module(p): _imports(p) for p in PKG.rglob("*.py")}


def _cycle(g):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if m not in g:
                continue
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None
    for n in sorted(g):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_cycles():
    g = graph()
    # a package's __init__ re-exports; a cycle through it is not a dependency of the stages
    g = {m: {d for d in deps if d != "derive"} for m, deps in g.items() if m != "derive"}
    assert _cycle(g) is None, " -> ".join(_cycle(g))


def test_the_graph_finds_a_cycle_when_there_is_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _cap(path: Path) -> int:
    rel = path.relative_to(PKG).as_posix()
    return LONGER[rel][0] if rel in LONGER else MAX_LINES.get(rel.split("/")[0], MAX_LINES[""])


def test_no_module_is_long():
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > _cap(p)}
    assert not long, long


def test_kind_names_are_compared_only_in_kinds():
    names = "gradient|jacobian|value|formula|shape|property|prose"
    pattern = re.compile(rf"kind\s*(?:==|!=)\s*[\"'](?:{names})[\"']|kind\s+(?:not\s+)?in\s*\(\s*[\"'](?:{names})")
    hits = [f"{p.relative_to(PKG.parent)}:{i}" for p in list(PKG.rglob("*.py")) + list((PKG.parent / "templates").glob("*"))
            if p.name != "kinds.py" for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, hits


# the stages, lowest first: a package imports only itself and the packages before it
STAGES = ("errors", "runtime", "expr", "notation", "problem", "engine", "verify", "variants", "codegen", "grading",
          "render", "batch", "validate", "serve", "cli")


def _stage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_packages_import_only_the_stages_below_them():
    upward = [f"{m} -> {d}" for m, deps in graph().items() if _stage(m)
              for d in deps if _stage(d) and STAGES.index(_stage(d)) > STAGES.index(_stage(m))]
    assert not upward, upward


def test_every_stage_is_listed_and_the_top_level_stays_small():
    top = {p.stem for p in PKG.glob("*.py")} - {"__init__"}
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()}
    assert top | packages == set(STAGES)
    assert len(top) <= 10


def test_every_package_says_its_job():
    for init in PKG.rglob("__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text())), init
