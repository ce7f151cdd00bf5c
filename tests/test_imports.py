"""An underscore means private: no module of the package imports another module's private
name (nor reaches one through the module: ``split._x``)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "virtmodel"


def private_uses(path: Path):
    tree = ast.parse(path.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    yield f"{path.name}:{node.lineno}: from {node.module} import {a.name}"
                if node.level and not node.module:  # from . import split
                    modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name.split(".")[0] for a in node.names)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            yield f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}"


def test_no_private_name_crosses_a_module_boundary():
    found = [use for path in sorted(PACKAGE.rglob("*.py")) for use in private_uses(path)]
    assert found == []


def test_the_check_sees_both_kinds_of_use(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from .ring import _driver_add\nfrom . import split\nsplit._driver_add\n")
    assert [u.split(": ", 1)[1] for u in private_uses(bad)] == [
        "from ring import _driver_add",
        "split._driver_add",
    ]
