"""spikefa data {fetch,check} mnist"""

from __future__ import annotations


def add_arguments(p):
    p.add_argument("action", choices=["fetch", "check"], help="fetch: download and verify; check: find and verify")
    p.add_argument("dataset", choices=["mnist"])
    p.add_argument("--dir", default=None,
                   help="folder (fetch: where to write, default data/mnist; check: where to look)")
    p.add_argument("--mirror", action="append", default=None, metavar="URL",
                   help="base URL to download from instead of the usual mirrors (repeatable)")


def main(args) -> int:
    from ..data import mnist

    if args.action == "fetch":
        mnist.fetch(args.dir or "data/mnist", mirrors=args.mirror or mnist.MIRRORS)
        return 0
    for split in ("train", "test"):
        images, labels = mnist.load(split, args.dir)
        print(f"{split}: {images.shape[0]} images, checksums ok "
              f"({mnist.locate(('train' if split == 'train' else 't10k') + '-images-idx3-ubyte', args.dir)})")
    return 0
