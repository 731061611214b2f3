"""spikefa plot RUN.h5 [NEW.h5 ...] | SWEEP_DIR [--out DIR] [--only raster,traces,...]"""

from __future__ import annotations


def add_arguments(p):
    p.add_argument("run", nargs="*", metavar="RUN",
                   help="run file (.h5) written by spikefa run or spikefa compare (joined with the files that "
                        "resume it: x.r1.h5 ...); several files: one run and its continuations, oldest first; "
                        "a sweep folder (with sweep.json): its curves, one per swept value, mean and spread "
                        "over seeds")
    p.add_argument("--out", metavar="DIR", help="folder for the figures (default: RUN_figures/ beside the run file)")
    p.add_argument("--only", "--kind", metavar="KINDS",
                   help="comma-separated figures: learning, delta_angle, weight_angle, phases (or alignment "
                        "for all three), raster, traces, compare, confusion; default: every figure the file has data for")
    p.add_argument("--list", action="store_true",
                   help="list the figures the file has data for and stop; without a file, every kind and what it needs")


def main(args) -> int:
    from .. import plot

    if args.list and not args.run:
        for name, kind in plot.KINDS.items():
            print(f"{name:14s} {kind.doc}\n{'':14s} needs {plot.NEEDS[name]}")
        return 0
    if not args.run:
        from ..errors import ConfigError

        raise ConfigError("spikefa plot: give a run file (RUN.h5); `spikefa plot --list` lists the kinds of figure")
    run = plot.sources.resolve(args.run)
    if isinstance(run, plot.sources.Source) and run.chain:
        print("one run from " + ", ".join(run.chain))
    if args.list:
        for name in plot.available(run):
            print(f"{name:14s} {plot.KINDS[name].doc}")
        return 0
    out_dir = args.out or plot.default_out_dir(run)
    if args.only:
        written = plot.plot(run, out_dir, args.only.split(","))
    else:
        written = plot.plot_all(run, out_dir)
    if not written:
        print(f"{run}: no data for any figure (no /metrics or /recordings); nothing written")
        return 0
    for name, paths in written.items():
        for path in paths:
            print(f"{name:14s} {path}")
    return 0
