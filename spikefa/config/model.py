"""load_model: a model file read, merged with --quick, --set and --seed, and checked where each value came from."""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore

from ..errors import ConfigError
from .catalogue import Catalogue, default_catalogue
from .fields import _plain, check_value
from .schema import deep_merge, did_you_mean, field_at, flatten, resolve
from .toml import _parse_toml, parse_override, read_toml, set_path


@dataclass
class Model:
    """A resolved model file: the experiment it runs and every parameter, defaults filled in."""

    experiment: str
    params: dict
    source: str
    title: str = ""
    raw: dict = field(default_factory=dict)


TOP_LEVEL = {"experiment", "title", "quick"}


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

