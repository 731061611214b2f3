"""Subcommands of the ``spikefa`` CLI: each module has add_arguments(parser) and main(args).

Keep imports at module level light (argparse only): ``spikefa --help`` imports every command.
"""


def cluster_arguments(p, scheduler: str, workers: str) -> None:
    """--scheduler and --workers (with their help texts): where the Dask tasks of a sweep or a study run."""
    p.add_argument("--scheduler", metavar="ADDRESS", help=scheduler)
    p.add_argument("--workers", type=int, metavar="K", help=workers)
