"""spikefa eval CKPT [--test-steps M] [--test-size N] [--readout R] [--carry | --no-carry] [--backend B]"""

from __future__ import annotations

import argparse


def add_arguments(p):
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint of a spiking run (RUN.ckpt.h5)")
    p.add_argument("--test-steps", type=int, metavar="M",
                   help="time steps per test image (default: the run's train.test_steps)")
    p.add_argument("--test-size", type=int, metavar="N", help="test only the first N test images")
    p.add_argument("--readout", choices=("spikes", "rate", "psp"),
                   help="what the class vote adds up (default: the run's train.test_readout)")
    p.add_argument("--carry", action=argparse.BooleanOptionalAction, default=None,
                   help="test dynamics run on from image to image (default: the run's train.test_carry)")
    p.add_argument("--backend", choices=("numpy", "cpu", "cuda"), help="compute on this backend (default: the run's)")


def main(args) -> int:
    from ..evaluate import evaluate_checkpoint
    from ..progress import format_table

    row = evaluate_checkpoint(args.checkpoint, test_steps=args.test_steps, test_size=args.test_size,
                              backend=args.backend, readout=args.readout, carry=args.carry)
    print(format_table([row], "test set, no training"))
    return 0
