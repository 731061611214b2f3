"""spikefa export RUN.h5 [MORE.h5 ...] --to nwb|sonata|neo [--out PATH] [--dt SECONDS] [--overwrite] [--follow]"""

from __future__ import annotations

DEFAULT_DT = 1e-3     # spikefa.record.export.DEFAULT_DT; repeated here so --help imports nothing heavy


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN.h5",
                   help="run file; several (a run and its resumed continuations) are joined into one timeline")
    p.add_argument("--to", required=True, metavar="FORMAT",
                   help="nwb (pynwb; extra [nwb]), sonata (SONATA spike file; h5py only), neo (a Neo Block "
                        "as .pkl, Neo's PickleIO, or .nix, NixIO; extra [neo])")
    p.add_argument("--out", metavar="PATH",
                   help="destination (default beside the last run file: RUN.nwb, RUN.spikes.h5 or RUN.neo.pkl)")
    p.add_argument("--dt", default=DEFAULT_DT, metavar="SECONDS",
                   help=f"seconds per time step: step k is exported at k * dt (default {DEFAULT_DT:g})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing destination")
    p.add_argument("--follow", action="store_true",
                   help="also join the runs each file continues (found through its 'continues' attribute)")


def main(args) -> int:
    import os
    import time

    from ..record.export import export_run

    t0 = time.perf_counter()
    path = export_run(args.runs, args.to, out=args.out, dt=args.dt, overwrite=args.overwrite, follow=args.follow)
    size = os.path.getsize(path)
    print(f"{args.to}: {path} ({size / 1e6:.2f} MB, {time.perf_counter() - t0:.1f} s; step k at k * {float(args.dt):g} s)")
    return 0
