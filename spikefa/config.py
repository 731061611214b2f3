"""Model files: TOML, checked against the schema of the experiment they name.

A model file names its experiment (``experiment = "fig2_linear"``) and sets that experiment's
parameters in tables. Every key is checked once, before any work: an unknown key (with the
nearest known one), a wrong type, NaN or inf, or a value outside its range raises
:class:`ConfigError` with one line naming where the value came from (the file and the key, the
file's ``[quick]`` table, ``--set`` or ``--seed``) and what is allowed. A :class:`Field` carries
its range, so code that builds the same parameters from Python (``SpikingParams``) checks them
with the same :func:`check_value`. Rules that tie several keys together live in the experiment's
optional ``check(params, origin)``. This module knows no experiment: :func:`load_model` takes a
:class:`Catalogue` of them (``spikefa.experiments``) from its caller, or the registered default.

A ``[quick]`` table holds overrides applied by ``--quick`` (same layout as the file itself).
``--set a.b=value`` overrides one key (the value is read as TOML, bare words as strings).
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore

from .errors import ConfigError

_MISSING = object()

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


def schema_keys(schema: dict, prefix: str = "") -> list[str]:
    """Every dotted key a schema accepts: ["seed", "network.tau", ...]."""
    out = []
    for k, v in schema.items():
        out.extend(schema_keys(v, prefix + k + ".") if isinstance(v, dict) else [prefix + k])
    return out


def did_you_mean(key: str, schema: dict) -> str:
    """" (did you mean 'network.tau'?)" for a near miss, else ""."""
    known = schema_keys(schema)
    last = key.rsplit(".", 1)[-1]
    by_last = {}
    for k in known:
        by_last.setdefault(k.rsplit(".", 1)[-1], k)
    if last in by_last:         # the right name in the wrong table: train.tau -> network.tau
        close = [by_last[last]]
    else:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if not close:
            match = difflib.get_close_matches(last, list(by_last), n=1, cutoff=0.8)
            close = [by_last[match[0]]] if match else []
    return f" (did you mean '{close[0]}'?)" if close else ""


def field_at(schema: dict, keys: list[str]):
    """The Field (or table) at a dotted path, or None."""
    node = schema
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def refuse_unknown_keys(schema: dict, data: dict, source: str, prefix: str = "", root: dict | None = None) -> None:
    """ConfigError for the first key of ``data`` (a table) that ``schema`` does not declare: one line
    naming it, the key meant for a near miss (looked up in ``root``, the whole schema) and the keys
    allowed at this level."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: key '{prefix.rstrip('.')}' must be a table")
    for key in data:
        if key not in schema:
            allowed = ", ".join(sorted(schema)) or "(none)"
            hint = did_you_mean(prefix + key, schema if root is None else root)
            raise ConfigError(f"{source}: unknown key '{prefix}{key}'{hint}; allowed here: {allowed}")


def resolve(schema: dict, data: dict, source: str, prefix: str = "", root: dict | None = None) -> dict:
    """Fill defaults and validate ``data`` against ``schema`` (nested dicts of Field)."""
    root = schema if root is None else root
    refuse_unknown_keys(schema, data, source, prefix, root)
    out = {}
    for key, spec in schema.items():
        full = prefix + key
        if isinstance(spec, dict):
            out[key] = resolve(spec, data.get(key, {}), source, full + ".", root)
        else:
            value = data.get(key, _MISSING)
            if value is _MISSING:
                out[key] = copy.deepcopy(spec.default)
            else:
                out[key] = check_value(spec, value, full, source)
    return out


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=3`` -> (["a", "b"], 3). The value is read as TOML; a bare word is a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set network.tau=0.5")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key is empty; expected KEY=VALUE, e.g. --set network.tau=0.5")
    try:
        value = _parse_toml(f"v = {raw}", f"--set {key}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return [part.strip() for part in key.split(".")], value


def _parse_toml(text: str, source: str) -> dict:
    """tomllib.loads, refusing nesting deeper than MAX_DEPTH before tomllib recurses into it."""
    depth = deepest = 0
    for ch in text:            # brackets inside strings only overcount, which errs on the safe side
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > MAX_DEPTH + 2:  # [[record.recorders]] headers and a list of lists inside a table
        raise ConfigError(f"{source}: tables or lists nest deeper than {MAX_DEPTH} levels; flatten them")
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{source}: tables or lists nest too deeply; flatten them") from None


def set_path(d: dict, path: list[str], value):
    for p in path[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise ConfigError(f"--set {'.'.join(path)}: '{p}' is not a table")
    d[path[-1]] = value


@dataclass
class Model:
    """A resolved model file: the experiment it runs and every parameter, defaults filled in."""

    experiment: str
    params: dict
    source: str
    title: str = ""
    raw: dict = field(default_factory=dict)


TOP_LEVEL = {"experiment", "title", "quick"}
MAX_MODEL_BYTES = 1 << 20   # model files are a few kB; anything this large is not one


def read_toml(path: str) -> dict:
    if not os.path.exists(path):
        raise ConfigError(f"{path}: model file not found; give the path of a .toml model file "
                          f"(see the models/ folder)")
    if os.path.isdir(path):
        raise ConfigError(f"{path}: is a folder; give the path of a .toml model file (see the models/ folder)")
    try:
        with open(path, "rb") as fh:
            blob = fh.read(MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read model file ({exc.strerror})") from None
    if len(blob) > MAX_MODEL_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_MODEL_BYTES >> 20} MB, so not a model file; "
                          f"give the path of a .toml model file")
    if b"\0" in blob:
        raise ConfigError(f"{path}: a binary file, not a TOML model file; give the path of a .toml model file")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the model file as UTF-8") from None
    try:
        return _parse_toml(text, path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


class Origins:
    """Where each value came from, for messages: the file, its [quick] table, --set or --seed."""

    def __init__(self, source: str):
        self.source = source
        self.by_key: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        return self.by_key.get(key, self.source)

    def of(self, *keys: str) -> str:
        """One source naming every place that set one of ``keys``."""
        seen = []
        for k in keys:
            where = self(k)
            if where not in seen:
                seen.append(where)
        return ", ".join(seen)


def _check_override(schema: dict, keys: list[str], value, text: str) -> str:
    """Check one --set against the schema on its own; returns its dotted key."""
    dotted = ".".join(keys)
    source = f"--set {text.strip()}"
    spec = field_at(schema, keys)
    if spec is None:
        raise ConfigError(f"{source}: unknown key '{dotted}'{did_you_mean(dotted, schema)}; "
                          f"the keys are in the model file and README")
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{dotted}' is a table; set one of its keys, e.g. "
                              f"--set {dotted}.{next(iter(spec), 'KEY')}=VALUE")
        resolve(spec, value, source, dotted + ".", schema)
    else:
        check_value(spec, value, dotted, source)
    return dotted


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


def load_model(path: str | None = None, *, quick: bool = False, overrides: list[str] | None = None,
               seed: int | None = None, text: str | None = None, raw: dict | None = None,
               catalogue: Catalogue | None = None) -> Model:
    """Read, merge (--quick, --set, --seed) and validate a model file.

    Give ``path`` (a file), ``text`` (TOML source) or ``raw`` (an already parsed dict). Each value
    is checked where it comes from (the file, its [quick] table, each --set, --seed), so a message
    blames the right one; then the experiment's ``check`` tests the rules between keys.
    ``catalogue`` names the experiments and gives their schemas and checks (``spikefa.experiments``;
    by default the registered one).
    """
    cat = default_catalogue() if catalogue is None else catalogue
    if raw is not None:
        data, source = copy.deepcopy(raw), path or "<model>"
    elif text is not None:
        source = path or "<model>"
        try:
            data = _parse_toml(text, source)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc}); fix the syntax") from None
    else:
        data, source = read_toml(path), path
    name = data.get("experiment")
    known = cat.names()
    if name is None:
        raise ConfigError(f"{source}: missing key 'experiment'; allowed: {', '.join(known)}")
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{source}: key 'experiment' = {_plain(name)!r}: expected one of "
                          f"{', '.join(known)}{hint}")
    schema = cat.schema(name)
    quick_table = data.get("quick", {})
    if not isinstance(quick_table, dict):
        raise ConfigError(f"{source}: key 'quick' must be a table ([quick] in a model file)")
    body = {k: v for k, v in data.items() if k not in TOP_LEVEL}
    origins = Origins(source)
    resolve(schema, body, source)
    # the [quick] table is checked even when not applied, so a typo there fails early
    quick_source = f"{source} [quick]"
    resolve(schema, deep_merge(body, quick_table), quick_source)
    if quick:
        body = deep_merge(body, quick_table)
        origins.by_key.update({k: quick_source for k in flatten(quick_table)})
    for text_override in overrides or []:
        keys, value = parse_override(text_override)
        dotted = _check_override(schema, keys, value, text_override)
        set_path(body, keys, value)
        origins.by_key.update({k: f"--set {text_override.strip()}"
                               for k in (flatten(value, dotted + ".") if isinstance(value, dict) else [dotted])})
    if seed is not None:
        check_value(schema["seed"], seed, "seed", "--seed")
        body["seed"] = seed
        origins.by_key["seed"] = "--seed"
    params = resolve(schema, body, source)
    check = cat.check(name)
    if check is not None:
        check(params, origins)
    return Model(experiment=name, params=params, source=source, title=str(data.get("title", "")), raw=data)


def flatten(d: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out
