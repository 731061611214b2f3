"""Reading model files and ``--set`` values as TOML, with their one-line errors; writing a model file's text."""

from __future__ import annotations

import json
import os
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore

from ..errors import ConfigError
from .fields import MAX_DEPTH


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


def dumps(data: dict) -> str:
    """A model file's text from its values (what :func:`read_toml` reads back): top-level keys first,
    then a ``[table]`` per dict (``[a.b]`` for nested ones); tables inside lists are written inline."""
    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return repr(v)

    def table(d: dict, name: str) -> list[str]:
        lines = [f"[{name}]"] if name else []
        lines += [f"{k} = {value(v)}" for k, v in d.items() if not isinstance(v, dict)]
        for k, v in d.items():
            if isinstance(v, dict):
                lines += table(v, f"{name}.{k}" if name else k)
        return lines

    return "\n".join(table(data, "")) + "\n"
