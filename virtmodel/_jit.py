"""One place that decides how virtmodel's kernels are compiled.

Kernels are ``@njit(cache=True, nogil=True)``: compiled once per machine, then loaded from
numba's on-disk cache, and free to run in threads.  Numba writes that cache beside the
package when the package folder is writable, else under ``~/.cache/numba``; when neither is
writable (a read-only site-packages and a read-only or missing home, as in some containers)
``import`` would fail with "no locator available".  We then point ``NUMBA_CACHE_DIR`` at a
per-user folder in the temporary directory *before* numba is imported.

``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python (the test suite runs once that way
so that arithmetic that only works because of machine-integer wrap-around is caught).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any


def _writable(path: str) -> bool:
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return bool(probe) and os.access(probe, os.W_OK)


def _choose_cache_dir() -> str | None:
    """Return a cache folder to force, or None when numba's own choice will work."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    user_cache = os.path.join(os.path.expanduser("~"), ".cache")
    if _writable(os.path.join(here, "__pycache__")) or _writable(user_cache):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"virtmodel-numba-cache-{uid}")


_forced = _choose_cache_dir()
if _forced:
    os.environ["NUMBA_CACHE_DIR"] = _forced

import numba
import numba.extending

CACHE_DIR_FORCED = _forced
"""The NUMBA_CACHE_DIR virtmodel had to set, or None if numba's default locations work."""


def njit(func=None, **options):
    """``numba.njit`` with virtmodel's defaults (cache=True, nogil=True)."""
    options.setdefault("cache", True)
    options.setdefault("nogil", True)
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)


def entry_point(kernel):
    """A separately compiled copy of an ``inline="always"`` kernel, for calls from Python
    (inlined kernels are meant to be called from other kernels)."""
    return njit(getattr(kernel, "py_func", kernel))


def _stack_array_typing(typingctx, n, dtype):
    """Typing and code of :func:`stack_array` (a numba intrinsic)."""
    from numba.core import cgutils, types

    if not isinstance(n, types.IntegerLiteral):
        return None  # numba tries again with the literal
    aryty = types.Array(dtype.dtype, 1, "C")
    size = n.literal_value

    def codegen(context, builder, sig, args):
        item = context.get_data_type(aryty.dtype)
        nbytes = context.get_constant(types.intp, context.get_abi_sizeof(item))
        ary = context.make_array(aryty)(context, builder)
        context.populate_array(
            ary,
            data=cgutils.alloca_once(builder, item, size=size),
            shape=[context.get_constant(types.intp, size)],
            strides=[nbytes],
            itemsize=nbytes,
            meminfo=None,
        )
        return ary._getvalue()

    return aryty(n, dtype), codegen


def _stack_array_python(n, dtype):
    return __import__("numpy").zeros(n, dtype)


stack_array: Any = (
    _stack_array_python
    if getattr(numba.config, "DISABLE_JIT", 0)
    else numba.extending.intrinsic(prefer_literal=True)(_stack_array_typing)
)
"""``stack_array(n, dtype)``: a small array of ``n`` (a constant) items of ``dtype`` in the
calling kernel's stack frame, uninitialised, for state a kernel keeps in named slots: unlike
an array passed in, LLVM sees that nothing else can point into it and keeps its slots in
registers.  It needs no runtime (it works under ``_nrt=False``) and must not outlive the
kernel that made it.  With the JIT off: ``np.zeros(n, dtype)``."""


def _row_typing(typingctx, a, i, n):
    """Typing and code of :func:`row` (a numba intrinsic)."""
    from numba.core import cgutils, types

    if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"):
        return None
    if not isinstance(n, types.IntegerLiteral):
        return None  # numba tries again with the literal
    width = n.literal_value
    aryty = types.Array(a.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        src = context.make_array(a)(context, builder, args[0])
        item = context.get_abi_sizeof(context.get_data_type(a.dtype))
        start = builder.mul(args[1], context.get_constant(types.intp, width))
        ary = context.make_array(aryty)(context, builder)
        context.populate_array(
            ary,
            data=cgutils.gep_inbounds(builder, src.data, start),
            shape=[context.get_constant(types.intp, width)],
            strides=[context.get_constant(types.intp, item)],
            itemsize=context.get_constant(types.intp, item),
            meminfo=None,
        )
        return ary._getvalue()

    return aryty(a, types.intp, n), codegen


def _row_python(a, i, n):
    return a[i * n : (i + 1) * n]


row: Any = (
    _row_python
    if getattr(numba.config, "DISABLE_JIT", 0)
    else numba.extending.intrinsic(prefer_literal=True)(_row_typing)
)
"""``row(a, i, n)``: row ``i`` of ``a`` (a 1-D C array of rows of ``n`` items; ``n`` a
constant), as a view: ``a[i * n:(i + 1) * n]`` without the slice's checks and
normalisation, which numba's slicing does at run time (tens of instructions and branches:
the event loop takes a row per actor it touches at every step).  Like a
:func:`stack_array`, the view holds no reference: it must not outlive ``a``.  With the JIT
off: the slice."""
