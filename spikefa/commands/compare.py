"""spikefa compare MODEL.toml [--quick] [--out RUN.h5] [--taus 0.3,0.6,0.9,1.0]

Trains the spiking network of MODEL.toml and its rate limit side by side (experiment "compare"),
prints the comparison table, keeps everything in the run file and draws the figures beside it.
MODEL.toml may be a "compare" model or a "spiking" one (its network, data and train tables are used).
"""

from __future__ import annotations


def add_arguments(p):
    p.add_argument("model", help="model file (.toml) of experiment compare or spiking, "
                                 "e.g. models/compare_rate_spiking.toml or models/fig4_spiking.toml")
    p.add_argument("--quick", action="store_true", help="the model's scaled-down version, in seconds")
    p.add_argument("--out", help="run file to write (.h5); default runs/<model>-seed<N>-<time>.h5")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--taus", metavar="LIST", help="comma-separated tau values to sweep, e.g. 0.3,0.6,0.9,1.0 "
                                                  "(empty string: no sweep)")
    p.add_argument("--seed", type=int, help="random seed (overrides the model file's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one parameter, e.g. --set compare.trials=50 (repeatable)")
    p.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def main(args) -> int:
    import os

    from ..errors import OutputError
    from ..experiments.compare import load_compare_model
    from ..runner import run_model

    if args.out and os.path.exists(args.out) and not args.overwrite:
        raise OutputError(f"{args.out} exists; choose another --out or pass --overwrite")
    model = load_compare_model(args.model, quick=args.quick, seed=args.seed, overrides=args.set, taus=args.taus)
    out_path, _ = run_model(model, args.out, quick=args.quick, show_progress=not args.no_progress)
    if not args.no_figures:
        from .. import plot

        out_dir = plot.default_out_dir(out_path)
        for paths in plot.plot(out_path, out_dir, ["compare", "learning"]).values():
            for path in paths:
                print(f"figure: {path}")
    return 0
