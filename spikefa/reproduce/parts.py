"""Which parts run, at which size, with which settings: sweep plans for the selected parts."""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..sweep import SweepPlan, plan_sweep
from .paper import PARTS
from .part import Part


def models_dir() -> str:
    """The repository's models/ folder (beside the package in a checkout), else ./models."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "models")
    if os.path.isdir(here):
        return here
    return os.path.abspath("models")


def select_parts(only: str | None) -> list[Part]:
    if not only:
        return list(PARTS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {p.name: p for p in PARTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown part {', '.join(unknown)}; the parts are {', '.join(known)}")
    return [known[n] for n in names]


def parse_part_sets(items) -> dict[str, list[str]]:
    """``["fig4:network.backend=cuda"]`` -> {"fig4": ["network.backend=cuda"]} (parts checked)."""
    out: dict[str, list[str]] = {}
    for item in items or ():
        name, sep, setting = item.partition(":")
        if not sep or "=" not in setting:
            raise ConfigError(f"--set {item!r}: expected PART:KEY=VALUE, e.g. --set fig4:network.backend=cuda")
        select_parts(name)
        out.setdefault(name, []).append(setting)
    return out


def _merge_sets(base, extra) -> list[str]:
    """The part's own --set values with the user's on top (a key given by both: the user's)."""
    merged = {item.split("=", 1)[0].strip(): item for item in base}
    merged.update({item.split("=", 1)[0].strip(): item for item in extra})
    return list(merged.values())


def plan_parts(parts: list[Part], out_dir: str, sizes: dict, models: str | None = None,
               seeds: int | None = None, part_sets: dict | None = None
               ) -> tuple[list[tuple[Part, SweepPlan]], list[tuple[Part, str]]]:
    """Sweep plans for the parts whose model files exist; the others with the reason.

    ``sizes`` maps a part's name to "quick" or "full"; ``part_sets`` adds --set values per part.
    """
    models = models or models_dir()
    part_sets = part_sets or {}
    # in a report that mixes sizes, a quick part writes beside its full-size folder, never into it:
    # the same task ids would otherwise replace the committed full-size runs with quick ones
    mixed = len(set(sizes.values())) > 1
    planned, skipped = [], []
    for part in parts:
        path = os.path.join(models, part.model)
        if not os.path.isfile(path):
            skipped.append((part, f"model file {path} not found"))
            continue
        quick = sizes[part.name] == "quick"
        n = seeds or (part.seeds_quick if quick else part.seeds_full)
        sets = _merge_sets(part.sets_quick if quick else part.sets_full, part_sets.get(part.name, ()))
        plan = plan_sweep(path, seeds=n, sets=sets,
                          out_dir=os.path.join(out_dir, part.name + ("-quick" if quick and mixed else "")),
                          quick=quick, name=part.name,
                          priority=part.priority)
        planned.append((part, plan))
    return planned, skipped


def part_sizes(parts: list[Part], quick: bool, full_parts: str | None) -> dict:
    """Part name -> "quick" or "full": all full unless ``quick``; ``full_parts`` names parts run at
    full size while the others stay quick."""
    full = set()
    if full_parts:
        full = {p.name for p in select_parts(full_parts)}
    return {p.name: "full" if (not quick or p.name in full) else "quick" for p in parts}
