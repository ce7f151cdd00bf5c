"""The path registry: what a path declares, and the one table of declared paths.

A path is one :class:`Path` object in its own module of ``virtmodel.paths``: its name,
label and colour, its parameters (:class:`Param`: default, allowed range or choices, unit,
one-line doc) and the function that runs it.  Everything that lists paths or their
parameters (``simulate``, ``sweep``, the plots' colours and legends, the explorers, the
CLI, the hardware catalogue) reads :data:`REGISTRY`; adding a path is one new module that
calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..costs import get as get_profile
from ..spec import check_int


@dataclass(frozen=True)
class Param:
    """One keyword parameter of a path.

    Parameters
    ----------
    name : str
        The keyword.
    default
        Its value when not given.
    unit : str
        Unit of the value ("" if none).
    doc : str
        One line: what it means.
    kind : str
        What it takes: ``"int"`` (``lo``..``hi``; ``hi`` may be a function of the
        parameters checked before it, described by ``hi_text``), ``"bool"``, ``"choice"``
        (one of ``choices``), ``"profile"`` (a CostProfile, a profile name or a .json
        path), ``"seed"`` (0..2**63-1) or ``"custom"`` (``check_fn`` alone decides;
        ``hi_text`` says what it allows).
    lo, hi, hi_text, choices, check_fn
        The allowed values, as ``kind`` says; ``check_fn(value, params so far)`` returns
        the value, checked further.
    """

    name: str
    default: Any
    unit: str
    doc: str
    kind: str = "int"
    lo: int | None = None
    hi: int | Callable[[dict], int] | None = None
    hi_text: str = ""
    choices: tuple = ()
    check_fn: Callable | None = None  # extra check: (value, params so far) -> value

    def allowed(self) -> str:
        """The allowed values, in words (for errors, ``--help`` and ``paths``)."""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "choice":
            return "one of " + ", ".join(map(repr, self.choices))
        if self.kind == "profile":
            return "a CostProfile, a profile name or a .json file"
        if self.kind == "seed":
            return "0..2**63-1"
        if self.kind == "custom":
            return self.hi_text
        hi = self.hi_text or (str(self.hi) if not callable(self.hi) else "")
        return f"{self.lo}..{hi}"

    def check(self, value, params: dict):
        """``value`` checked and converted (a profile name becomes a CostProfile).

        Parameters
        ----------
        value
            The value given.
        params : dict
            The parameters checked before this one (a range may depend on them).

        Raises
        ------
        ValueError
            Naming the parameter and its allowed values.
        """
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{self.name} must be True or False, got {value!r}")
            value = bool(value)
        elif self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{self.name} must be {self.allowed()}, got {value!r}")
        elif self.kind == "profile":
            value = get_profile(value)
        elif self.kind == "seed":
            value = check_int(value, self.name, 0, 2**63 - 1, "2**63-1")
        elif self.kind == "int":
            hi = self.hi(params) if callable(self.hi) else self.hi
            value = check_int(value, self.name, self.lo, hi, self.hi_text)
        if self.check_fn is not None:
            value = self.check_fn(value, params)
        return value


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
        unknown = sorted(set(params) - set(self.param_names))
        if unknown:
            raise ValueError(
                f"{self.name!r} takes no parameter {', '.join(unknown)}; "
                f"it takes {', '.join(self.param_names)}"
            )
        out: dict = {}
        for p in self.params:
            out[p.name] = p.check(params.get(p.name, p.default), out)
        return out


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
