"""The path registry: what a path declares, and the one table of declared paths.

A path is one :class:`Path` object in its own module of ``virtmodel.paths``: its name,
label and colour, its parameters (:class:`~virtmodel.params.Param` declarations from
:mod:`virtmodel.params`: default, allowed range or choices, unit, one-line doc) and the
function that runs it.  Everything that lists paths or their
parameters (``simulate``, ``sweep``, the plots' colours and legends, the explorers, the
CLI, the hardware catalogue) reads :data:`REGISTRY`; adding a path is one new module that
calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..params import Param, check_all

__all__ = [
    "REGISTRY",
    "Example",
    "Param",
    "Path",
    "get",
    "names",
    "register",
    "taking",
    "unregister",
]


@dataclass(frozen=True)
class Example:
    """One typical operation on a path, for the catalogue of what operations cost
    (:mod:`virtmodel.hardware`): the hardware or driver, the operation, the trapping
    accesses it makes (in words) and the parameters that model it."""

    hardware: str
    operation: str
    accesses: str
    params: dict


@dataclass(frozen=True)
class Path:
    """One I/O path: what a path module declares and registers.

    Parameters
    ----------
    name : str
        The name ``simulate`` takes.
    label, color : str
        Its legend label and line colour in figures.
    doc : str
        One line: what the path is.
    params : tuple of Param
        The keywords it takes, checked in this order (a range may depend on the
        parameters before it).
    run : callable
        ``run(params, profile, rng)`` simulates the checked ``params`` with the
        :class:`~virtmodel.costs.CostProfile` ``profile`` and the numpy Generator ``rng``
        (lent for the call, by :func:`virtmodel.jitter.seeded`: do not keep it), and
        returns an :class:`~virtmodel.paths.result.Outcome`.
    examples : tuple of Example
        Its entries in the hardware catalogue.
    """

    name: str
    label: str
    color: str
    doc: str
    params: tuple[Param, ...]
    run: Callable
    examples: tuple[Example, ...] = ()

    def param(self, name: str) -> Param:
        """The declaration of parameter ``name``; ValueError listing the others."""
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(
            f"{self.name!r} takes no parameter {name!r}; it takes {', '.join(self.param_names)}"
        )

    @property
    def param_names(self) -> tuple[str, ...]:
        """The names of its parameters, in checking order."""
        return tuple(p.name for p in self.params)

    def check(self, params: dict) -> dict:
        """The full parameter set (defaults filled), every value checked.

        Raises
        ------
        ValueError
            An unknown parameter, or a value outside its allowed range.
        """
        return check_all(self.params, params, repr(self.name))

    def accepting(self, params: dict) -> dict:
        """The items of ``params`` this path takes (in their order), the others left out:
        for a caller that sets one set of knobs on several paths.

        >>> from virtmodel.paths import get
        >>> get("native").accepting({"batch": 4, "ioeventfd": False})
        {'batch': 4}
        """
        takes = self.param_names
        return {k: v for k, v in params.items() if k in takes}


REGISTRY: dict[str, Path] = {}
"""Path name -> :class:`Path`, in registration order."""


def register(path: Path) -> Path:
    """Add ``path`` to :data:`~virtmodel.paths.registry.REGISTRY`; every listing of paths
    then includes it.

    Parameters
    ----------
    path : Path
        The declaration; its name must not be registered yet.

    Returns
    -------
    Path
        ``path`` itself (a path module keeps it as ``PATH``).

    Raises
    ------
    ValueError
        Not a Path, or the name is taken.
    """
    if not isinstance(path, Path):
        raise ValueError(f"register takes a Path, got {type(path).__name__}")
    if path.name in REGISTRY:
        raise ValueError(f"a path named {path.name!r} is already registered")
    REGISTRY[path.name] = path
    return path


def unregister(name: str) -> None:
    """Remove a path (tests register toy paths and take them away again)."""
    REGISTRY.pop(name)


def get(name: str) -> Path:
    """The registered path ``name``; ValueError listing the registered ones otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"path must be one of {', '.join(REGISTRY)}; got {name!r}") from None


def names() -> tuple[str, ...]:
    """Registered path names, in registration order."""
    return tuple(REGISTRY)


def taking(param: str) -> tuple[str, ...]:
    """Names of the registered paths that take parameter ``param``."""
    return tuple(n for n, p in REGISTRY.items() if param in p.param_names)
