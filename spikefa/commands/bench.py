"""spikefa bench TARGET: benchmarks that print ratios measured in one run (never timed tests)."""

from __future__ import annotations

import importlib
import pkgutil


def _targets():
    from .. import bench
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def add_arguments(p):
    p.add_argument("target", nargs="?", default="spiking",
                   help="what to benchmark: spiking (default), rate, recording")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--backends", default=None, help="comma-separated backends (default: all available)")
    p.add_argument("--repeat", type=int, default=None, help="timed repetitions")
    p.add_argument("--streams", default=None,
                   help="parallel input streams S to measure, one or a comma-separated list (spiking: default "
                        "1,8,32,128)")


def main(args) -> int:
    from ..errors import ConfigError

    targets = _targets()
    if args.target not in targets:
        raise ConfigError(f"bench target {args.target!r} unknown; choose one of {', '.join(targets)}")
    return int(importlib.import_module(f"spikefa.bench.{args.target}").main(args) or 0)
