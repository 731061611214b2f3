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

Modules: ``fields`` (Field, check_value), ``schema`` (resolve, keys, did-you-mean, flatten),
``toml`` (reading model files and --set values, dumps), ``catalogue`` (the experiments load_model can
name), ``model`` (Model, load_model). Their public names are importable from here.
"""

from .catalogue import Catalogue, default_catalogue, register_catalogue
from .fields import INT_LIMIT, MAX_DEPTH, Field, check_value
from .model import TOP_LEVEL, Model, Origins, load_model
from .schema import deep_merge, did_you_mean, field_at, flatten, refuse_unknown_keys, resolve, schema_keys
from .toml import MAX_MODEL_BYTES, dumps, parse_override, read_toml, set_path

__all__ = ["Catalogue", "default_catalogue", "register_catalogue", "INT_LIMIT", "MAX_DEPTH", "Field", "check_value",
           "TOP_LEVEL", "Model", "Origins", "load_model", "deep_merge", "did_you_mean", "field_at", "flatten",
           "refuse_unknown_keys", "resolve", "schema_keys", "MAX_MODEL_BYTES", "dumps", "parse_override", "read_toml",
           "set_path"]
