"""Samples taken inside compiled blocks (record/compiled.py) write the file the observer writes.

Each run here is recorded twice from the same network: by the Recording as build_recorders attaches
it (on the cpu backend's spike-rows kernel, the compiled blocks copy its samples) and by the same
Recording wrapped in an observer called after every step. The files must be bit-identical, and
the first must have run whole blocks, not a call per sampled step.
"""

import numpy as np
import pytest

from test_record_blocks import assert_same, assert_same_weights, data, make, record, recorders
from spikefa.record import Recorder

pytest.importorskip("spikefa.spiking.network")


def run(path, net, n_images, recs, every_step=False, chunks=(None,), block_steps=8):
    """record() of test_record_blocks: the Recording itself (or, ``every_step``, wrapped in an
    observer called after every step); the calls as (steps, whether the call took the samples)."""
    sampled = []
    rec, calls = record(path, net, n_images, recs=recs, every_step=every_step, direct=not every_step, chunks=chunks,
                        block_steps=block_steps, sampled=sampled)
    return getattr(rec, "inner", rec), list(zip(calls, sampled))


@pytest.mark.parametrize("streams, stream, kw, chunks", [
    (1, 0, {}, (None,)),
    (3, 2, {}, (7, None)),                    # another stream; two train calls
    (2, 1, {"mode": "rate"}, (None,)),        # probabilities in place of spikes
    (1, 0, {"sparse": 0.3, "feedback": "bp"}, (5, 5, None)),
])
def test_compiled_samples_write_what_the_observer_writes(tmp_path, streams, stream, kw, chunks):
    n_images = 18 * streams
    ref = make(streams=streams, **kw)
    rec_ref, ref_calls = run(tmp_path / "ref.h5", ref, n_images, recorders(stream), every_step=True, chunks=chunks)
    net = make(streams=streams, **kw)
    rec, calls = run(tmp_path / "blk.h5", net, n_images, recorders(stream), chunks=chunks)
    assert rec.compiled is not None and rec_ref.compiled is not None
    assert_same(tmp_path / "ref.h5", tmp_path / "blk.h5")
    assert_same_weights(ref, net)
    steps = sum(n for n, _ in calls)
    assert steps == sum(n for n, _ in ref_calls) == len(ref_calls) > 0
    assert any(took for _, took in calls) and not any(took for _, took in ref_calls)
    # blocks end where a buffer of 8 rows fills, or a train call or its blocks of images end
    assert len(calls) < steps / 2, calls


def test_a_recording_of_every_step_runs_blocks_of_its_buffer(tmp_path):
    """50 units of every variable at every step (the recording bench's case): one call per 64 rows."""
    recs = [Recorder(name="all", layers="all", units=[0, 3, 7], variables=["spikes", "V", "U", "mod", "error"])]
    ref = make()
    run(tmp_path / "ref.h5", ref, 60, recs, every_step=True, block_steps=64)
    net = make()
    rec, calls = run(tmp_path / "blk.h5", net, 60, recs, block_steps=64)
    assert_same(tmp_path / "ref.h5", tmp_path / "blk.h5")
    assert sum(n for n, _ in calls) == 180 and len(calls) <= 180 // 64 + 8, calls


def test_backends_that_take_no_samples_are_observed(tmp_path):
    """The numpy reference (and the gemm kernel, and cuda) record through the observer, unchanged."""
    ref, gemm = make("numpy", streams=8), make("cpu", streams=8, cpu_kernel="gemm")
    assert not ref.backend.takes_samples(8) and not gemm.backend.takes_samples(8)
    rec_ref, ref_calls = run(tmp_path / "ref.h5", ref, 48, recorders())
    rec, calls = run(tmp_path / "gemm.h5", gemm, 48, recorders())
    assert not any(took for _, took in ref_calls + calls)
    with pytest.raises(ValueError, match="takes no samples"):
        X, y = data()
        gemm.backend.run(gemm.state, X, np.zeros((1, 8), np.int64), np.zeros((1, 8), np.int64),
                         np.zeros((1, 8, 10), np.float32), 0, 1, 3, 0, True, 0, samples=rec.compiled.plan(
                             np.array([1]), np.array([0])).samples)
