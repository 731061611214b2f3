"""spikefa eval CKPT [--test-steps M[,M...]] [--on test|validation | --choose] [--test-size N] [--readout R]
[--carry | --no-carry] [--backend B]"""

from __future__ import annotations

import argparse


def add_arguments(p):
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint of a spiking run (RUN.ckpt.h5)")
    p.add_argument("--test-steps", type=_steps, metavar="M[,M...]",
                   help="time steps per test image (default: the run's train.test_steps); several, "
                        "comma-separated: one row each")
    p.add_argument("--on", choices=("test", "validation"), default="test",
                   help="the test set (default) or the validation images the run held out of training "
                        "(its data.validation_size)")
    p.add_argument("--choose", action="store_true",
                   help="choose among the --test-steps values on the validation images, then test the test "
                        "set once, at the one chosen (what train.test_steps_choices does after training)")
    p.add_argument("--test-size", type=int, metavar="N", help="test only the first N test images")
    p.add_argument("--readout", choices=("spikes", "rate", "psp"),
                   help="what the class vote adds up (default: the run's train.test_readout)")
    p.add_argument("--carry", action=argparse.BooleanOptionalAction, default=None,
                   help="test dynamics run on from image to image (default: the run's train.test_carry)")
    p.add_argument("--backend", choices=("numpy", "cpu", "cuda"), help="compute on this backend (default: the run's)")


def _steps(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer or comma-separated integers, e.g. 5,10,20")


def main(args) -> int:
    from ..errors import ConfigError
    from ..evaluate import choose_checkpoint_test_steps, evaluate_checkpoint
    from ..progress import format_table

    kw = dict(test_size=args.test_size, backend=args.backend, readout=args.readout, carry=args.carry)
    if args.choose:
        if not args.test_steps or len(args.test_steps) < 2:
            raise ConfigError("--choose: give two or more --test-steps to choose among, e.g. --test-steps 5,10,20,40")
        if args.on != "test":
            raise ConfigError("--choose chooses on the validation images and tests the test set; leave out --on")
        rows = choose_checkpoint_test_steps(args.checkpoint, args.test_steps, **kw)
        print(format_table(rows, "test steps chosen on the validation images, then the test set once, no training"))
        return 0
    rows = [evaluate_checkpoint(args.checkpoint, test_steps=m, on=args.on, **kw) for m in (args.test_steps or [None])]
    print(format_table(rows, f"{args.on} {'set' if args.on == 'test' else 'images'}, no training"))
    return 0
