"""The packages' layering, read from the source: imports go api -> index -> ingest, api
reaches the index only through KnowledgeBase (never its store), and the runtime never imports
its tooling (evals, training), which may import the runtime."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    """Every module a source imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _store_uses(tree: ast.AST) -> list[int]:
    """Lines that reach into a store: ``x.store`` or ``getattr(x, "store")``."""
    lines = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "store"]
    lines += [
        n.lineno for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "getattr"
        and any(isinstance(a, ast.Constant) and a.value == "store" for a in n.args)
    ]  # fmt: skip
    return sorted(lines)


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_checks_catch_what_they_look_for():
    source = ast.parse(
        "import index.kb\nfrom api import app\n"
        "def f(kb):\n    from index.store import Store\n    return kb.store.documents()\n"
        "rows = getattr(snapshot, 'store')\n"
    )
    assert _imports(source) == {"index.kb", "api", "index.store"}
    assert _store_uses(source) == [5, 6]
    assert _store_uses(ast.parse("token_store(request).verify(t)\nkb.documents()")) == []


@pytest.mark.parametrize("path", _modules("api"), ids=lambda p: p.name)
def test_api_reads_and_writes_only_through_the_knowledge_base(path: Path):
    tree = _parse(path)
    assert _store_uses(tree) == [], f"{path.name} reaches into a store; add a KnowledgeBase method"
    into_store = [m for m in _imports(tree) if _under(m, "index.store")]
    assert into_store == [], f"{path.name} imports {into_store}"


TOOLING = ("evals", "training")  # evaluation and model building: not runtime


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("ingest", ("index", "api", *TOOLING)), ("index", ("api", *TOOLING)), ("api", TOOLING)],
)
def test_imports_go_one_way(package: str, forbidden: tuple[str, ...]):
    wrong = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _modules(package)
        for module in _imports(_parse(path))
        if any(_under(module, f) for f in forbidden)
    }
    assert not wrong, sorted(wrong)
