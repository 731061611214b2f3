"""Model files: TOML, checked against the schema of the experiment they name.

A model file names its experiment (``experiment = "fig2_linear"``) and sets that experiment's
parameters in tables. Every key is checked: an unknown key, a wrong type or an impossible value
raises :class:`ConfigError` with one line naming the file, the key and what is allowed.

A ``[quick]`` table holds overrides applied by ``--quick`` (same layout as the file itself).
``--set a.b=value`` overrides one key (the value is read as TOML, bare words as strings).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore

from .errors import ConfigError

_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One parameter: its default, what values are allowed, and what it means.

    kind: "int", "float", "bool", "str", "list[int]", "list[float]", "list[str]", "any".
    optional: None is allowed (TOML cannot write None: it means "not set").
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

    def allowed(self) -> str:
        what = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                "list[int]": "a list of integers", "list[float]": "a list of numbers",
                "list[str]": "a list of strings", "any": "any value"}[self.kind]
        parts = [what]
        if self.choices:
            parts = ["one of " + ", ".join(repr(c) for c in self.choices)]
        if self.min is not None:
            parts.append((">" if self.min_exclusive else ">=") + f" {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.min_len:
            parts.append(f"with at least {self.min_len} entries")
        return " ".join(parts)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool))


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
    def bad(reason=""):
        shown = repr(value)
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
        items = value
    else:
        if not _check_scalar(f.kind, value):
            bad()
        items = [value]
    for x in items:
        if f.choices is not None and x not in f.choices:
            bad()
        if f.min is not None and _is_number(x) and (x <= f.min if f.min_exclusive else x < f.min):
            bad()
        if f.max is not None and _is_number(x) and x > f.max:
            bad()
    if f.kind == "float":
        return float(value)
    if f.kind == "list[float]":
        return [float(x) for x in value]
    return copy.deepcopy(value)


def resolve(schema: dict, data: dict, source: str, prefix: str = "") -> dict:
    """Fill defaults and validate ``data`` against ``schema`` (nested dicts of Field)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: key '{prefix.rstrip('.')}' must be a table")
    out = {}
    for key in data:
        if key not in schema:
            allowed = ", ".join(sorted(schema)) or "(none)"
            raise ConfigError(f"{source}: unknown key '{prefix}{key}'; allowed here: {allowed}")
    for key, spec in schema.items():
        full = prefix + key
        if isinstance(spec, dict):
            out[key] = resolve(spec, data.get(key, {}), source, full + ".")
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
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. train.eta=0.01")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


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


def read_toml(path: str) -> dict:
    if not os.path.exists(path):
        raise ConfigError(f"{path}: model file not found; give the path of a .toml model file "
                          f"(see the models/ folder)")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read model file ({exc.strerror})") from None


def load_model(path: str | None = None, *, quick: bool = False, overrides: list[str] | None = None,
               seed: int | None = None, text: str | None = None, raw: dict | None = None) -> Model:
    """Read, merge (--quick, --set, --seed) and validate a model file.

    Give ``path`` (a file), ``text`` (TOML source) or ``raw`` (an already parsed dict).
    """
    from . import experiments

    if raw is not None:
        data, source = copy.deepcopy(raw), path or "<model>"
    elif text is not None:
        data, source = tomllib.loads(text), path or "<model>"
    else:
        data, source = read_toml(path), path
    name = data.get("experiment")
    known = experiments.names()
    if name is None:
        raise ConfigError(f"{source}: missing key 'experiment'; allowed: {', '.join(known)}")
    if name not in known:
        raise ConfigError(f"{source}: key 'experiment' = {name!r}: expected one of {', '.join(known)}")
    schema = experiments.schema(name)
    quick_table = data.get("quick", {})
    body = {k: v for k, v in data.items() if k not in TOP_LEVEL}
    if quick:
        if not isinstance(quick_table, dict):
            raise ConfigError(f"{source}: key 'quick' must be a table")
        body = deep_merge(body, quick_table)
    for text_override in overrides or []:
        keys, value = parse_override(text_override)
        set_path(body, keys, value)
    if seed is not None:
        body["seed"] = seed
    params = resolve(schema, body, source)
    # quick overrides are validated too, even when not applied, so a typo there fails early
    if not quick and quick_table:
        resolve(schema, deep_merge({k: v for k, v in data.items() if k not in TOP_LEVEL}, quick_table),
                source + " [quick]")
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
