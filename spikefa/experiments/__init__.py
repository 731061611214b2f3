"""Experiments: one module each, found by name.

An experiment module defines
  SCHEMA  nested dict of :class:`spikefa.config.Field` (must include "seed"), and
  run(params, out, ctx) -> list[dict] | dict
          trains/evaluates, writes metrics and results into ``out`` (a RunFile), and returns the
          rows of the summary table printed at the end (one dict per row).
  DOC     one line shown by ``spikefa run --list``.
A model file says ``experiment = "<module name>"``. New experiments need no registration.
"""

from __future__ import annotations

import importlib
import pkgutil


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(name: str):
    return importlib.import_module(f"{__name__}.{name}")


def schema(name: str) -> dict:
    return get(name).SCHEMA
