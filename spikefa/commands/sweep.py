"""spikefa sweep MODEL.toml --seeds N [--set key=v1,v2 ...] [--scheduler ADDRESS] [--out DIR] [--workers K] [--quick]"""

from __future__ import annotations

from . import cluster_arguments


def add_arguments(p):
    p.add_argument("model", help="model file (.toml) to run for every seed and parameter combination")
    p.add_argument("--seeds", type=int, default=1, metavar="N", help="run seeds S..S+N-1 (default 1)")
    p.add_argument("--first-seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2",
                   help="sweep one parameter over comma-separated values, e.g. --set train.eta=0.01,0.1 "
                        "(repeatable: every combination runs; a single value just overrides)")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the run files, the index sweep.json and the summary "
                        "(default runs/sweep-<model>[-quick]); rerunning into it skips finished tasks")
    cluster_arguments(p, "address of an existing Dask scheduler (tcp://host:8786); default: a local cluster",
                      "worker processes of the local cluster (default: one per core); each task gets cores/K "
                      "numba threads")
    p.add_argument("--quick", action="store_true", help="run every task's scaled-down version")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args) -> int:
    import sys

    from ..sweep import plan_sweep, run_sweeps

    plan = plan_sweep(args.model, seeds=args.seeds, first_seed=args.first_seed, sets=args.set, out_dir=args.out,
                      quick=args.quick)
    try:
        (outcome,) = run_sweeps([plan], scheduler=args.scheduler, workers=args.workers,
                                show_progress=not args.no_progress)
    except KeyboardInterrupt:
        c = plan.counts()
        print(f"\nsweep stopped: {c['finished']} of {len(plan.tasks)} tasks finished, index {plan.index_path}; "
              f"run the same command again to resume", file=sys.stderr)
        raise
    return 1 if outcome.plan.counts()["failed"] else 0
