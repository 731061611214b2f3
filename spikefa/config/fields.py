"""One parameter of a model file (:class:`Field`) and the check of one value against it."""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

# An integer with no bound of its own still has to fit HDF5's int64 attributes and numpy's
# default integers with room to spare; no count this package takes comes near it.
INT_LIMIT = 2**31 - 1
# How deep tables and lists may nest: model files use three levels; tomllib recurses per level.
MAX_DEPTH = 16


@dataclass(frozen=True)
class Field:
    """One parameter: its default, what values are allowed, and what it means.

    kind: "int", "float", "bool", "str", "list[int]", "list[float]", "list[str]", "any".
    optional: None is allowed (TOML cannot write None: it means "not set").
    Numbers are always finite; an int without ``max`` is at most INT_LIMIT. For lists, the range
    applies to every entry and ``min_len``/``max_len`` to the list.
    """

    default: Any
    kind: str
    doc: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    optional: bool = False
    min_len: int | None = None
    max_exclusive: bool = False
    max_len: int | None = None

    @property
    def upper(self):
        """The largest allowed value: ``max``, or INT_LIMIT for an integer without one."""
        if self.max is None and self.kind in ("int", "list[int]"):
            return INT_LIMIT
        return self.max

    def allowed(self) -> str:
        what = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "list[int]": "a list of integers", "list[float]": "a list of numbers",
                "list[str]": "a list of strings", "any": "any value"}[self.kind]
        if self.kind in ("float", "list[float]"):
            what = what.replace("number", "finite number")
        parts = [what]
        if self.choices:
            parts = ["one of " + ", ".join(str(c) for c in self.choices)]
        bounds = []
        if self.min is not None:
            bounds.append((">" if self.min_exclusive else ">=") + f" {_num(self.min)}")
        if self.upper is not None:
            bounds.append(("<" if self.max_exclusive else "<=") + f" {_num(self.upper)}")
        if bounds:
            parts.append(" and ".join(bounds))
        if self.min_len and self.max_len:
            parts.append(f"with {self.min_len} to {self.max_len} entries")
        elif self.min_len:
            parts.append(f"with at least {self.min_len} entries")
        elif self.max_len:
            parts.append(f"with at most {self.max_len} entries")
        return " ".join(parts)


def _num(x) -> str:
    """A bound as a person writes it: 100000, 1e+09, 0.5."""
    if isinstance(x, int) or float(x).is_integer() and abs(x) < 1e7:
        return str(int(x))
    return f"{x:g}"


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _plain(v):
    """numpy scalars as Python ones, so messages print 782, not np.int64(782)."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (TypeError, ValueError):
            return v
    return v


def _check_scalar(kind, v):
    if kind == "int":
        return _is_int(v)
    if kind == "float":
        return _is_number(v)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "str":
        return isinstance(v, str)
    return True


def check_value(f: Field, value, key: str, source: str):
    """``value`` converted to the field's kind, or ConfigError naming ``source`` and ``key``."""
    def bad(reason=""):
        shown = repr(_plain(value))
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise ConfigError(f"{source}: key '{key}' = {shown}{reason}: expected {f.allowed()}")

    if value is None:
        if f.optional:
            return None
        bad()
    if f.kind.startswith("list["):
        inner = f.kind[5:-1]
        if not isinstance(value, list) or not all(_check_scalar(inner, x) for x in value):
            bad()
        if f.min_len is not None and len(value) < f.min_len:
            bad()
        if f.max_len is not None and len(value) > f.max_len:
            bad()
        items = value
    else:
        if not _check_scalar(f.kind, value):
            bad()
        items = [value]
    upper = f.upper
    for x in items:
        if f.choices is not None and x not in f.choices:
            bad()
        if not _is_number(x):
            continue
        if not math.isfinite(x):
            bad()
        if f.min is not None and (x <= f.min if f.min_exclusive else x < f.min):
            bad()
        if upper is not None and (x >= upper if f.max_exclusive else x > upper):
            bad()
    if f.kind == "float":
        return float(value)
    if f.kind == "int":
        return int(value)
    if f.kind == "list[float]":
        return [float(x) for x in value]
    if f.kind == "list[int]":
        return [int(x) for x in value]
    if f.kind == "any":
        _check_any(value, key, source)
    return copy.deepcopy(value)


def _check_any(value, key: str, source: str, depth: int = 0) -> None:
    """Free-form values (recorder tables) hold no NaN, inf, huge integers or deep nesting either;
    their own schema checks the rest."""
    if depth > MAX_DEPTH:
        raise ConfigError(f"{source}: key '{key}' nests deeper than {MAX_DEPTH} levels; flatten it")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_any(v, f"{key}.{k}", source, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_any(v, key, source, depth + 1)
    elif _is_number(value) and not (math.isfinite(value) and abs(value) <= INT_LIMIT if _is_int(value)
                                     else math.isfinite(value)):
        raise ConfigError(f"{source}: key '{key}' holds {value!r}: expected finite numbers "
                          f"(integers within +-{INT_LIMIT})")

