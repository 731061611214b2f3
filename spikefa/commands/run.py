"""spikefa run [MODEL.toml] [--out RUN.h5] [--seed N] [--quick] [--set key=value ...] [--resume CKPT]"""

from __future__ import annotations


# shown in --help; tests run each on the models it names
SET_EXAMPLES = ("--set network.tau=0.5 (the default model, fig4_spiking, compare_rate_spiking), "
                "--set train.examples=500 (fig2_linear, fig3d_deep, fig5_quadratic), "
                "--set train.epochs=2 (fig3a_mnist)")


def add_arguments(p):
    p.add_argument("model", nargs="?", help="model file (.toml); omit for the embedded spiking demo")
    p.add_argument("--out", help="run file to write (.h5); default runs/<model>-seed<N>-<time>.h5")
    p.add_argument("--seed", type=int, help="random seed (overrides the model file's)")
    p.add_argument("--quick", action="store_true", help="scaled-down version that runs in seconds")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one key of the model file (repeatable), e.g. " + SET_EXAMPLES)
    p.add_argument("--resume", metavar="CKPT", help="resume from a checkpoint file written by an earlier run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--list", action="store_true", help="list the experiments a model file can name")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def main(args) -> int:
    import os

    from .. import experiments
    from ..errors import OutputError
    from ..runner import check_out_file, run_file

    if args.list:
        for name in experiments.names():
            print(f"{name:24s} {getattr(experiments.get(name), 'DOC', '')}")
        return 0
    if args.out:
        check_out_file(args.out)    # a folder or a device: --overwrite would not help
    if args.out and os.path.exists(args.out) and not args.overwrite:
        hint = " (a resumed run writes a new file; the reader joins both)" if args.resume else ""
        raise OutputError(f"{args.out} exists; choose another --out or pass --overwrite{hint}")
    run_file(args.model, args.out, quick=args.quick, seed=args.seed, overrides=args.set,
             resume=args.resume, show_progress=not args.no_progress)
    return 0
