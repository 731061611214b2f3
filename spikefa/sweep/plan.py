"""Planning a sweep: seeds x --set values expanded into tasks, each checked against the model's schema."""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import ConfigError

INDEX_NAME = "sweep.json"
STATUSES = ("pending", "running", "finished", "failed")


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` at commas outside brackets and quotes (``[1,2],[3,4]`` is two values)."""
    values, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``["train.eta=0.01,0.1", "net.unit=tanh"]`` -> {"train.eta": ["0.01", "0.1"], "net.unit": ["tanh"]}."""
    grid: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=V1,V2,..., e.g. --set train.eta=0.01,0.1")
        key, raw = item.split("=", 1)
        key = key.strip()
        values = split_values(raw)
        if not key or any(v == "" for v in values):
            raise ConfigError(f"--set {item!r}: empty key or value; write KEY=V1,V2,...")
        if key == "seed":
            raise ConfigError(f"--set {item!r}: seeds are swept with --seeds N (and --first-seed), not --set")
        if key in grid:
            raise ConfigError(f"--set {key}: given twice; list all its values in one --set {key}=V1,V2,...")
        grid[key] = values
    return grid


def _safe(text: str) -> str:
    """A file-name-safe form of a task id (brackets and quotes of TOML values dropped)."""
    text = re.sub(r"[\[\]\"']", "", text)
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "x"


@dataclass
class Task:
    """One run of the sweep: a seed and one value of every --set key."""

    id: str
    seed: int
    settings: dict                      # --set key -> value text, for every key of the grid
    out: str                            # run file, relative to the sweep folder (the latest attempt's)
    log: str = ""                       # the task's log, relative to the sweep folder
    status: str = "pending"
    error: str = ""
    attempts: int = 0
    worker: str = ""
    wall_s: float | None = None
    started: str = ""
    ended: str = ""
    summary: list = field(default_factory=list)   # the run's summary rows
    params: dict = field(default_factory=dict)    # resolved parameters (not written to the index)

    def overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.settings.items()]

    def record(self) -> dict:
        keys = ("id", "seed", "settings", "out", "log", "status", "error", "attempts", "worker", "wall_s",
                "started", "ended", "summary")
        return {k: getattr(self, k) for k in keys}


@dataclass
class SweepPlan:
    """Every task of one sweep of one model file, and where its files go."""

    model: str                          # absolute path of the model file
    out_dir: str
    quick: bool
    seeds: list[int]
    grid: dict[str, list[str]]
    tasks: list[Task]
    experiment: str = ""
    title: str = ""
    name: str = ""                      # label in progress and reports
    priority: int = 0                   # larger runs first when several sweeps share a cluster
    created: str = ""

    @property
    def varied(self) -> list[str]:
        return [k for k, v in self.grid.items() if len(v) > 1]

    @property
    def index_path(self) -> str:
        return os.path.join(self.out_dir, INDEX_NAME)

    def run_path(self, task: Task) -> str:
        return os.path.join(self.out_dir, task.out)

    def counts(self) -> dict:
        c = {s: 0 for s in STATUSES}
        for t in self.tasks:
            c[t.status] += 1
        return c


def default_out_dir(model_path: str, quick: bool) -> str:
    stem = os.path.splitext(os.path.basename(model_path))[0]
    return os.path.join("runs", f"sweep-{stem}{'-quick' if quick else ''}")


def plan_sweep(model_path: str, *, seeds: int | Iterable[int] = 1, first_seed: int = 0, sets: Iterable[str] = (),
               out_dir: str | None = None, quick: bool = False, name: str = "", priority: int = 0) -> SweepPlan:
    """Expand seeds x --set values into tasks, validating every combination now (ConfigError)."""
    from ..config import load_model

    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"--seeds {seeds}: need at least 1 seed")
        seed_list = list(range(first_seed, first_seed + seeds))
    else:
        seed_list = list(seeds)
    if first_seed < 0 or any(s < 0 for s in seed_list):
        raise ConfigError("--first-seed: seeds must be >= 0")
    grid = parse_grid(sets)
    model_path = os.path.abspath(model_path)
    out_dir = os.path.abspath(out_dir or default_out_dir(model_path, quick))
    varied = [k for k, v in grid.items() if len(v) > 1]
    tasks, used_names = [], set()
    base = load_model(model_path, quick=quick, seed=seed_list[0])
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)):
        settings = dict(zip(keys, combo))
        for seed in seed_list:
            task_id = ",".join([f"{k}={settings[k]}" for k in varied] + [f"seed={seed}"])
            overrides = [f"{k}={v}" for k, v in settings.items()]
            model = load_model(model_path, quick=quick, seed=seed, overrides=overrides)
            fname = _safe(task_id)
            while fname in used_names:          # two ids that differ only in unsafe characters
                fname += "_"
            used_names.add(fname)
            tasks.append(Task(id=task_id, seed=seed, settings=settings, out=os.path.join("runs", fname + ".h5"),
                              log=os.path.join("runs", fname + ".log"), params=model.params))
    stem = os.path.splitext(os.path.basename(model_path))[0]
    return SweepPlan(model=model_path, out_dir=out_dir, quick=quick, seeds=seed_list, grid=grid, tasks=tasks,
                     experiment=base.experiment, title=base.title, name=name or stem, priority=priority,
                     created=_now())
