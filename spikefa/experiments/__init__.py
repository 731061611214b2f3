"""Experiments: one module each, found by name.

An experiment module defines
  SCHEMA  nested dict of :class:`spikefa.config.Field` (must include "seed"), and
  run(params, out, ctx) -> list[dict] | dict
          trains/evaluates, writes metrics and results into ``out`` (a RunFile), and returns the
          rows of the summary table printed at the end (one dict per row).
  DOC     one line shown by ``spikefa run --list``.
  check(params, origin)  optional: rules between keys, run by load_model after each value is checked.
A model file says ``experiment = "<module name>"``. New experiments need no registration. This
package is the catalogue :func:`spikefa.config.load_model` reads (names, schema, check); it
registers itself as the default when imported (importing ``spikefa`` imports it).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from ..config import register_catalogue


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(name: str):
    return importlib.import_module(f"{__name__}.{name}")


def schema(name: str) -> dict:
    return get(name).SCHEMA


def check(name: str):
    """The experiment's ``check(params, origin)``, or None when it has none."""
    return getattr(get(name), "check", None)


register_catalogue(sys.modules[__name__])
