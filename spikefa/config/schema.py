"""Schemas (nested dicts of :class:`Field`): resolving a table against one, the keys it accepts and the
near miss a message suggests; merging and flattening tables."""

from __future__ import annotations

import copy
import difflib

from ..errors import ConfigError
from .fields import check_value

_MISSING = object()


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


def flatten(d: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out
