"""spikefa reproduce [--quick | --full [PARTS]] [--out DIR] [--scheduler ADDRESS] [--only fig2,fig3d,...]"""

from __future__ import annotations

from . import cluster_arguments


def add_arguments(p):
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="every part scaled down: the whole report in under 10 minutes on 2 cores (default)")
    size.add_argument("--full", nargs="?", const="all", metavar="PARTS",
                      help="the paper's protocol (hours to days); --full fig2,fig5 runs those parts at full "
                           "size and the others quick")
    p.add_argument("--out", metavar="DIR",
                   help="folder for report.md, its figures and every part's sweep (default runs/reproduce-quick, "
                        "-full or -mixed); rerunning into it skips runs already finished, and finished runs "
                        "of the checkout's committed reports/<size>/ are taken from there")
    p.add_argument("--update-reports", action="store_true",
                   help="write into the checkout's committed reports/<size>/ instead (for maintainers "
                        "refreshing the reports under version control)")
    p.add_argument("--only", metavar="PARTS",
                   help="comma-separated parts to run (default all): fig2, fig3a, fig3d, fig4, fig4_60k, fig5, compare")
    cluster_arguments(p, "an existing Dask scheduler; default: a local cluster",
                      "worker processes of the local cluster (default: cores)")
    p.add_argument("--seeds", type=int, metavar="N", help="seeds per part (default: each part's own for its size)")
    p.add_argument("--models", metavar="DIR", help="folder of the model files (default: the checkout's models/)")
    p.add_argument("--set", action="append", default=[], metavar="PART:KEY=VALUE",
                   help="override one parameter of one part, e.g. --set fig4:network.backend=cuda (repeatable)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: write the report from the runs finished so far (a long study's "
                        "interim report), saying which are not")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args) -> int:
    import os
    import sys

    from ..errors import ConfigError
    from ..reproduce import models_dir, reproduce

    everything_full = args.full == "all"
    full_parts = None if args.full in (None, "all") else args.full
    kind = "full" if everything_full else "mixed" if full_parts else "quick"
    # a mixed run's full-size parts are those of the full report
    committed = os.path.join(os.path.dirname(models_dir()), "reports", "full" if full_parts else kind)
    if args.update_reports and args.out:
        raise ConfigError("--update-reports writes into the checkout's reports/ folder; drop --out, or drop "
                          "--update-reports to write into --out")
    out = committed if args.update_reports else args.out or os.path.join("runs", f"reproduce-{kind}")
    try:
        report = reproduce(out, quick=not everything_full, full_parts=full_parts, only=args.only,
                           scheduler=args.scheduler, workers=args.workers, seeds=args.seeds, models=args.models,
                           sets=args.set, show_progress=not args.no_progress,
                           reuse_from=committed if os.path.isdir(committed) else None, report_only=args.report_only)
    except KeyboardInterrupt:
        print(f"\nreproduce stopped; finished runs are kept in {out}: run the same command again to resume",
              file=sys.stderr)
        raise
    return 1 if report.failed_tasks else 0
