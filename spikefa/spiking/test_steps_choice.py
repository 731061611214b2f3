"""Choosing M, the time steps each test image is shown for, on held-out validation images.

The paper tests with M = 5 steps. More steps average more spikes into the class vote, which can
lower the error of a trained network; how many pays is a question for held-out data, never the
test set. ``choose_test_steps`` tests the validation images at each candidate M, keeps the M with
the lowest validation error (the smallest M on a tie, the cheaper readout), and only then tests the
test set, once, at that M. Testing never changes the network's training state, and the network's
own test_steps are left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestStepsChoice:
    candidates: tuple[int, ...]
    validation_errors: tuple[float, ...]     # one per candidate
    chosen: int                              # the M kept
    validation_error: float                  # at the M kept
    test_error: float                        # at the M kept; nan when no test set was given


def choose_test_steps(net, candidates, val_images, val_labels, test_images=None, test_labels=None,
                      callback=None) -> TestStepsChoice:
    """Validation error at each M in ``candidates``; the test error at the M with the lowest one."""
    candidates = tuple(int(m) for m in candidates)
    if not candidates:
        raise ValueError("choose_test_steps: no candidate test steps")
    if val_images is None or len(val_labels) == 0:
        raise ValueError("choose_test_steps: no validation images to choose on")
    kept = net.params
    try:
        errors = []
        for m in candidates:
            net.params = kept.replace(test_steps=m)
            errors.append(net.test(val_images, val_labels, callback=callback))
        best = min(range(len(candidates)), key=lambda i: (errors[i], candidates[i]))
        chosen = candidates[best]
        test_error = float("nan")
        if test_images is not None:
            net.params = kept.replace(test_steps=chosen)
            test_error = net.test(test_images, test_labels, callback=callback)
    finally:
        net.params = kept
    return TestStepsChoice(candidates=candidates, validation_errors=tuple(float(e) for e in errors),
                           chosen=chosen, validation_error=float(errors[best]), test_error=float(test_error))
