"""spikefa reproduce [--quick | --full [PARTS]] [--out DIR] [--scheduler ADDRESS] [--only fig2,fig3d,...]"""

from __future__ import annotations


def add_arguments(p):
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="every part scaled down: the whole report in under 10 minutes on 2 cores (default)")
    size.add_argument("--full", nargs="?", const="all", metavar="PARTS",
                      help="the paper's protocol (hours to days); --full fig2,fig5 runs those parts at full "
                           "size and the others quick")
    p.add_argument("--out", metavar="DIR",
                   help="folder for report.md, its figures and every part's sweep (default reports/quick, "
                        "reports/full or reports/mixed); rerunning into it skips runs already finished")
    p.add_argument("--only", metavar="PARTS",
                   help="comma-separated parts to run (default all): fig2, fig3a, fig3d, fig4, fig5, compare")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler; default: a local cluster")
    p.add_argument("--workers", type=int, metavar="K", help="worker processes of the local cluster (default: cores)")
    p.add_argument("--seeds", type=int, metavar="N", help="seeds per part (default: each part's own for its size)")
    p.add_argument("--models", metavar="DIR", help="folder of the model files (default: the checkout's models/)")
    p.add_argument("--set", action="append", default=[], metavar="PART:KEY=VALUE",
                   help="override one parameter of one part, e.g. --set fig4:network.backend=cuda (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args) -> int:
    import os
    import sys

    from ..reproduce import reproduce

    everything_full = args.full == "all"
    full_parts = None if args.full in (None, "all") else args.full
    kind = "full" if everything_full else "mixed" if full_parts else "quick"
    out = args.out or os.path.join("reports", kind)
    try:
        report = reproduce(out, quick=not everything_full, full_parts=full_parts, only=args.only, scheduler=args.scheduler,
                  workers=args.workers, seeds=args.seeds, models=args.models, sets=args.set,
                  show_progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"\nreproduce stopped; finished runs are kept in {out}: run the same command again to resume",
              file=sys.stderr)
        raise
    return 1 if report.failed_tasks else 0
