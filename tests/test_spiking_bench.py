"""The benchmark's floor follows MODEL.md's accounting, and `spikefa bench spiking --quick` runs and prints
what it measured against, the machine, the S sweep and (full size only) its targets. Never timed."""

import argparse

import numpy as np

import pytest

from spikefa.bench import spiking as bench


def test_dense_step_of_figure4_moves_about_110_MB():
    sizes = bench.FIG4
    dense = bench.step_floor_bytes(sizes, active=sizes[:-1])
    assert dense == pytest.approx(110e6, rel=0.01)           # MODEL.md: "about 110 MB"
    half = bench.step_floor_bytes(sizes, active=[s / 2 for s in sizes[:-1]])
    feedback = 4 * (1500 * 1500 * 2 + 1500 * 1000)
    assert half - feedback == pytest.approx((dense - feedback) / 2, rel=0.01)
    # a row whose unit spiked in this step and the last is read once for both uses: 1 of 3 passes saved
    fused = bench.step_floor_bytes(sizes, active=sizes[:-1], shared=sizes[:-1])
    assert dense - fused == pytest.approx(4 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])), rel=1e-9)


def test_spike_counter_counts_units_that_spiked_in_consecutive_steps():
    from types import SimpleNamespace

    from spikefa.bench._floor import SpikeCounter

    steps = [[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 1]]
    counter = SpikeCounter(0)
    for s in steps:
        counter.on_step(SimpleNamespace(layer_state=lambda var, layer, s=s: np.array(s, dtype=np.float32)))
    assert counter.mean[0] == pytest.approx(7 / 3) and counter.shared[0] == pytest.approx((1 + 2) / 2)


def test_copy_bandwidth_on_several_threads_copies_every_slab_and_leaves_numba_threads_alone():
    import numba

    from spikefa.bench import _floor

    src = np.arange(1001, dtype=np.float32)
    dst = np.zeros_like(src)
    _floor._copy_in_slabs(dst, src, 3)              # slabs of 334, 334 and 333
    np.testing.assert_array_equal(dst, src)
    before = numba.get_num_threads()
    assert _floor.copy_bandwidth(8, repeat=1, threads=2) > 0
    assert numba.get_num_threads() == before


def test_quick_bench_prints_the_ratios(capsys):
    args = argparse.Namespace(quick=True, backends="cpu", streams=8, repeat=2)
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "copy bandwidth" in out and "cpu / floor" in out and "S=8 over S=1" in out
    assert "gemm/" in out and "rows/" in out      # eight streams on this network take the gemm kernel
    assert "S=32 over S=1" not in out             # --streams 8: one stream and eight
    if bench.usable_cores() > 1:                  # one stream on every core, beside the automatic one core
        assert f"rows/{bench.usable_cores()}" in out and "one stream on every core" in out


def test_gemm_floor_times_the_products_alone():
    assert 0 < bench.gemm_floor_seconds(bench.QUICK, 8, repeat=2) < 1


def test_the_products_are_timed_between_the_steps_timed_calls_for_as_many_steps():
    """The S-stream step and its BLAS products alone alternate, each sample as long as one call."""
    from spikefa.spiking import SpikingParams

    X, y, _ = bench.images_for_bench(32)
    N = SpikingParams(sizes=bench.QUICK, units_per_class=10).steps_per_image
    timer, calls = bench.GemmProducts(bench.QUICK, 8), []

    def between(info, steps):
        calls.append(steps)
        timer.time(steps)

    m = bench.measure("cpu", bench.QUICK, X, y, streams=8, images=16, units_per_class=10, between=between)
    assert calls == [2 * N] * bench.REPEATS and m["products"]
    assert 0 < timer.best < m["ms_per_step"] / 1e3 * 10


def test_the_streams_ceiling_counts_the_products_arithmetic():
    from spikefa.bench import _floor
    from spikefa.spiking import gemm

    products = gemm.step_products(bench.FIG4, 32, "fa")
    weights = sum(a * b for a, b in zip(bench.FIG4[:-1], bench.FIG4[1:]))
    feedback = 1500 * 1500 * 2 + 1500 * 1000             # B_h: n_h x n_{h+1}, hidden layers only
    assert _floor.product_flops(products) == 2 * 32 * (2 * weights + feedback)
    # one stream at 1.6 ms, 32 streams' products at 8 ms: no more than 6.4x, however lean the rest
    assert _floor.streams_ceiling(32, 1.6, 8.0) == pytest.approx(6.4)
    assert _floor.sgemm_peak_flops(n=256, repeat=1) > 0
    lines = bench.ceiling_lines({"products": products, "blas_ms": 8.0}, 1.6)
    assert "6.4x" in lines[1] and "GFLOP/s" in lines[0]


def test_quick_bench_prints_references_machine_and_streams_but_no_targets(capsys):
    """The output's logic, never its times: --quick names what each ratio is measured against, the
    machine and the S sweep, and says that targets need the full-size network instead of judging them."""
    from spikefa.cli import main

    assert main(["bench", "spiking", "--quick", "--backends", "numpy,cpu"]) == 0
    out = capsys.readouterr().out
    for text in ("machine: ", " cores", "load average", "measured against", "numpy reference backend",
                 "copy bandwidth", "BLAS products", "during the bench", "other processes", bench.QUICK_NOTE,
                 "ceiling of S=32 over S=1"):
        assert text in out, text
    sweep = out[out.index("S streams side by side"):]
    for S in bench.STREAMS:
        assert f"S={S} over S=1" in out or S == 1
        assert any(line.split()[:2] == ["cpu", str(S)] for line in sweep.splitlines()), S
    assert "gemm/" in sweep                          # from S = 8 on, as cpu_kernel = "auto" picks
    assert "target" not in out.replace(bench.QUICK_NOTE, "")
    assert "not met" not in out and ": met" not in out


def test_target_lines_give_value_measured_and_verdict():
    lines = bench.target_lines({"cpu_floor": 1.2, "cpu_numpy": 4.0}, quick=False)
    assert lines[0].startswith("targets")
    floor, numpy_, streams, blas, torch_ = lines[1:]
    assert "<= 1.3" in floor and "measured 1.20" in floor and floor.endswith(": met")
    assert ">= 5" in numpy_ and "measured 4.00" in numpy_ and numpy_.endswith("not met")
    assert "S=32 over S=1" in streams and "not measured" in streams
    assert "BLAS products alone" in blas and "<= 1.1" in blas and "not measured" in blas
    assert "PyTorch" in torch_ and ">= 2" in torch_ and "not measured" in torch_
    loaded = bench.target_lines({"cpu_floor": 1.2}, quick=False, loaded=True)
    assert "met (under load: not conclusive)" in loaded[1]
    noted = bench.target_lines({"cpu_streams": 6.5}, quick=False, notes={"cpu_streams": "ceiling 7.0x here"})
    assert any("measured 6.50: not met (ceiling 7.0x here)" in line for line in noted)
    assert bench.target_lines({"cpu_floor": 1.2}, quick=True) == [bench.QUICK_NOTE]


def test_machine_and_cpu_use_warn_only_under_load():
    assert any(line.startswith("WARNING") for line in bench.machine_lines((3.5, 3.0, 2.0), cores=2))
    assert not any(line.startswith("WARNING") for line in bench.machine_lines((0.5, 0.4, 0.3), cores=2))
    busy = {"wall_s": 10.0, "own_s": 10.0, "others_s": 9.0, "steal_s": 0.0}
    quiet = {"wall_s": 10.0, "own_s": 10.0, "others_s": 0.5, "steal_s": 0.0}
    assert "other processes 0.90 of the 2" in bench.cpu_use_lines(busy, 2)[0]
    assert bench.cpu_use_lines(busy, 2)[-1].startswith("WARNING")
    assert len(bench.cpu_use_lines(quiet, 2)) == 1
    assert bench.under_load((0.5, 0.4, 0.3), busy, 2) and not bench.under_load((0.5, 0.4, 0.3), quiet, 2)
    assert bench.under_load((3.5, 3.0, 2.0), quiet, 2)
    assert "unknown" in bench.cpu_use_lines(None, 2)[0]


def test_streams_option_takes_a_list_and_always_measures_one_stream():
    from spikefa.errors import ConfigError

    assert bench.parse_streams(None) == bench.STREAMS == (1, 8, 32, 128)
    assert bench.parse_streams("32,8") == (1, 8, 32)
    assert bench.parse_streams(8) == (1, 8)
    for bad in ("0", "x"):
        with pytest.raises(ConfigError):
            bench.parse_streams(bad)


def test_the_pytorch_step_is_the_reference_step_and_the_bench_compares_with_it(capsys):
    """The PyTorch comparison times the same step as spikefa's: drawing its spikes from the
    reference's uniforms, one learning step of it gives the reference's spikes, V, U and weights;
    and the bench prints the comparison and its target."""
    torch = pytest.importorskip("torch")
    import numpy as np

    from spikefa.bench import _torch
    from spikefa.rng import layer_key, uniform
    from spikefa.spiking import reference
    from spikefa.spiking.params import SpikingParams
    from spikefa.spiking.state import new_streams, new_weights

    sizes, S = (6, 5, 4, 20), 2
    net = _torch.TorchSpikingStep(sizes, streams=S, units_per_class=2, init_scale=1.0, feedback_scale=0.5)
    params = SpikingParams(sizes=sizes, units_per_class=2, streams=S, eta=1e-3, gamma=1e-8)

    def draw(p, out, layer):
        u = np.stack([uniform(params.seed, 0, layer_key(layer, k, 0), np.arange(p.shape[1])) for k in range(S)])
        out.copy_((torch.from_numpy(u.astype(np.float32)) < p).float())
    net.draw = draw
    w = new_weights(params)
    for h in range(3):
        w.WT[h][...] = net.W[h].numpy().T
        w.scale[h] = 1.0
        w.b[h][...] = 0
    for h in range(2):
        w.B[h][...] = net.B[h].numpy()
    st = new_streams(sizes, S)
    labels = np.array([k % 10 for k in range(S)])          # TorchSpikingStep's targets
    before = [W.numpy().copy() for W in net.W]
    net.step()
    reference.step(params, w, st, net.x.numpy(), labels, 0, True)
    for h in range(3):
        np.testing.assert_array_equal(net.s[h + 1].numpy(), st.s[h + 1])
        np.testing.assert_allclose(net.V[h].numpy(), st.V[h], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(net.U[h].numpy(), st.U[h], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(net.W[h].numpy() - before[h], w.scale[h] * w.WT[h].T - before[h], atol=1e-6)
    assert any(np.abs(net.W[h].numpy() - before[h]).max() > 0 for h in range(3))   # it learned

    from spikefa.cli import main

    assert main(["bench", "spiking", "--quick", "--backends", "cpu", "--streams", "32"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch" in out and "PyTorch / spikefa" in out
