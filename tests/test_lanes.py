"""The JIT-off lane is chosen by a marker, not a list: every test module of a module with
numba kernels carries ``pytestmark = pytest.mark.model`` (dev.py runs the ``model`` tests a
second time with NUMBA_DISABLE_JIT=1, where a missing 16-bit mask shows)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "virtmodel"


def kernel_modules() -> set[str]:
    """Names of the model's modules (and packages) that define or compile numba kernels;
    the lab's are left out (its tests drive real KVM and run once)."""
    out = set()
    for f in PACKAGE.rglob("*.py"):
        rel = f.relative_to(PACKAGE)
        text = f.read_text()
        if rel.parts[0] in ("lab", "_jit.py") or (
            "@njit" not in text and "entry_point(" not in text
        ):
            continue  # (ring.py compiles ringops' kernels as entry points)
        out.add(rel.parts[0].removesuffix(".py"))
    return out


def marks_model(test_file: Path) -> bool:
    """The module assigns ``pytestmark`` to ``pytest.mark.model`` (alone or in a list)."""
    for node in ast.parse(test_file.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return "pytest.mark.model" in ast.unparse(node.value)
    return False


def test_the_kernel_modules_are_found():
    assert {
        "spec",
        "ring",
        "ringops",
        "ringmem",
        "ringsim",
        "packed",
        "split",
        "jitter",
        "paths",
    } <= (kernel_modules())


def test_every_test_module_of_the_numba_kernels_runs_in_the_jit_off_lane():
    tests = sorted((ROOT / "tests").glob("test_*.py"))
    of_kernels = [
        f
        for f in tests
        for m in kernel_modules()
        if f.stem == f"test_{m}" or f.stem.startswith(f"test_{m}_")
    ]
    assert len(of_kernels) >= 7  # spec, ring(+properties), packed(+properties), ringsim, ...
    missing = [f.name for f in of_kernels if not marks_model(f)]
    assert not missing, f"mark these pytestmark = pytest.mark.model: {missing}"


def test_a_module_without_the_mark_is_told_apart(tmp_path):
    plain = tmp_path / "test_x.py"
    plain.write_text("import pytest\n\npytestmark = pytest.mark.slow\n")
    marked = tmp_path / "test_y.py"
    marked.write_text("import pytest\n\npytestmark = [pytest.mark.model, pytest.mark.slow]\n")
    assert not marks_model(plain) and marks_model(marked)
