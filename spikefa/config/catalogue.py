"""The experiments load_model can name: a :class:`Catalogue` given by the caller, or the registered default."""

from __future__ import annotations

from typing import Callable, Protocol


class Catalogue(Protocol):
    """Where load_model finds experiments: ``spikefa.experiments`` is one (this module imports
    nothing above it; the caller passes the catalogue, or the package registers its default)."""

    def names(self) -> list[str]: ...

    def schema(self, name: str) -> dict: ...

    def check(self, name: str) -> Callable | None: ...


_default_catalogue: Catalogue | None = None


def register_catalogue(catalogue: Catalogue) -> None:
    """Make ``catalogue`` the one load_model uses when its caller passes none (``spikefa.experiments``
    registers itself when imported, which importing ``spikefa`` does)."""
    global _default_catalogue
    _default_catalogue = catalogue


def default_catalogue() -> Catalogue:
    if _default_catalogue is None:
        raise RuntimeError("no experiment catalogue registered: import spikefa.experiments or pass "
                           "load_model(..., catalogue=...)")
    return _default_catalogue

