"""Recording the real spiking network: every backend, both modes, against what it holds each step."""

import json

import numpy as np
import pytest

from proc_helpers import run_under_cudasim
from spikefa.record import Recorder, build_recorders, open_run

spiking = pytest.importorskip("spikefa.spiking.network")
from spikefa.spiking.params import SpikingParams  # noqa: E402

SIZES = (16, 12, 10, 20)
VARS = ["spikes", "V", "U", "mod", "error"]


def data(n=12, seed=0):
    gen = np.random.default_rng(seed)
    return gen.random((n, SIZES[0]), dtype=np.float32), gen.integers(0, 10, n)


def make(backend="numpy", mode="spiking", streams=1):
    return spiking.SpikingNetwork(SpikingParams(sizes=SIZES, units_per_class=2, backend=backend, mode=mode,
                                                streams=streams, steps_per_image=3, seed=5, eta=0.05))


class Copier:
    """Keeps a copy of every variable at every step: what a recorder must reproduce."""

    def __init__(self):
        self.rows = []

    def on_step(self, net):
        L = len(net.sizes) - 1
        row = {"step": net.step, "image": net.image_index, "label": net.label, "count": net.images_seen}
        for layer in range(L + 1):
            for var in VARS if layer else ["spikes"]:
                if var == "error" and layer != L:
                    continue
                row[(var, layer)] = np.array(net.layer_state(var, layer), copy=True)
        self.rows.append(row)


def record_all(path, net, n_images=12, every=1):
    X, y = data(n_images)
    copier = Copier()
    net.add_observer(copier)
    with build_recorders([Recorder(name="all", layers=[0, 1, 2, 3], variables=VARS, every=every),
                          Recorder(name="some", layers="hidden", units=4, seed=1, variables=["V", "mod"])],
                         net, str(path), model_params={"sizes": list(SIZES)}):
        net.train(X, y, n_images=n_images)
    return copier.rows


@pytest.mark.parametrize("mode", ["spiking", "rate"])
def test_numpy_recording_equals_the_network_state(tmp_path, mode):
    path = tmp_path / "run.h5"
    rows = record_all(path, make("numpy", mode))
    with open_run(str(path)) as rec:
        ix = rec.index("all")
        np.testing.assert_array_equal(ix["step"], [r["step"] for r in rows])
        np.testing.assert_array_equal(ix["step"], np.arange(1, 37))
        np.testing.assert_array_equal(ix["label"], [r["label"] for r in rows])
        np.testing.assert_array_equal(ix["image"], [r["image"] for r in rows])
        np.testing.assert_array_equal(ix["image_count"], [r["count"] for r in rows])
        assert rec.attrs["mode"] == mode and rec.attrs["backend"] == "numpy"
        for (var, layer) in [k for k in rows[0] if isinstance(k, tuple)]:
            want = np.stack([r[(var, layer)] for r in rows])
            if var == "spikes" and mode == "spiking":
                np.testing.assert_array_equal(rec.raster(layer, recorder="all"), want.astype(bool))
            else:
                np.testing.assert_array_equal(rec.trace(var, layer, recorder="all"), want)
        units = rec.units(2, recorder="some", var="V")
        np.testing.assert_array_equal(rec.trace("mod", 2, units=units[1:3], recorder="some"),
                                      np.stack([r[("mod", 2)][units[1:3]] for r in rows]))


def test_cpu_recording_matches_numpy(tmp_path):
    record_all(tmp_path / "np.h5", make("numpy"))
    record_all(tmp_path / "cpu.h5", make("cpu"))
    with open_run(str(tmp_path / "np.h5")) as a, open_run(str(tmp_path / "cpu.h5")) as b:
        np.testing.assert_array_equal(a.index("all")["step"], b.index("all")["step"])
        for layer in (1, 2, 3):
            assert (a.raster(layer, recorder="all") != b.raster(layer, recorder="all")).mean() < 0.01
            np.testing.assert_allclose(a.trace("V", layer, recorder="all")[:5], b.trace("V", layer, recorder="all")[:5],
                                       rtol=1e-4, atol=1e-5)


def test_second_stream_is_recorded(tmp_path):
    path = tmp_path / "run.h5"
    net = make("numpy", streams=2)
    X, y = data()
    seen = []
    images = []

    class Stream1:
        def on_step(self, n):
            seen.append(n.layer_state("V", 1, stream=1).copy())
            images.append((n.image_indices[1], n.labels[1]))

    net.add_observer(Stream1())
    with build_recorders([Recorder(layers=[1], variables=["V"], stream=1)], net, str(path)):
        net.train(X, y, n_images=12)
    with open_run(str(path)) as rec:
        np.testing.assert_array_equal(rec.trace("V", 1), np.stack(seen))
        np.testing.assert_array_equal(rec.index()["image"], [im for im, _ in images])
        np.testing.assert_array_equal(rec.index()["label"], [lab for _, lab in images])


CUDA_SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_record_spiking import make, record_all
from spikefa.record import open_run
from spikefa.record import writer
gathered = []
writer.CudaChannel.fetch = (lambda fetch: lambda self, m: gathered.append(m) or fetch(self, m))(writer.CudaChannel.fetch)
out = {{}}
for backend in ("cpu", "cuda"):
    path = {tmp!r} + "/" + backend + ".h5"
    record_all(path, make(backend), n_images=2)
    with open_run(path) as rec:
        assert rec.attrs["backend"] == backend
        out[backend] = {{"steps": rec.index("all")["step"].tolist(),
                        "spikes": [rec.raster(l, recorder="all").astype(int).tolist() for l in (1, 2, 3)],
                        "V": rec.trace("V", 3, recorder="all").tolist(),
                        "some": rec.trace("mod", 2, recorder="some").tolist()}}
assert gathered, "the cuda recording did not gather on the device"
print(json.dumps(out))
"""


def test_cuda_recording_equals_cpu_under_the_simulator(tmp_path):
    pytest.importorskip("spikefa.spiking.cuda")
    res = run_under_cudasim(CUDA_SCRIPT, tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    cpu, gpu = out["cpu"], out["cuda"]
    assert cpu["steps"] == gpu["steps"] == list(range(1, 7))
    for a, b in zip(cpu["spikes"], gpu["spikes"]):
        assert np.mean(np.array(a) != np.array(b)) < 0.01
    np.testing.assert_allclose(cpu["V"][:5], gpu["V"][:5], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cpu["some"][:5], gpu["some"][:5], rtol=1e-4, atol=1e-5)


def test_windows_count_the_images_of_one_stream(tmp_path):
    """With S = 4 streams a named window of 3 images spans 3 images (9 steps) of the recorded stream."""
    path = tmp_path / "run.h5"
    net = make("cpu", streams=4)
    X, y = data(n=40)
    with build_recorders([Recorder(layers=[1], variables=["spikes"], windows=["early", "late"], window_images=3)],
                         net, str(path), total_images=40):
        net.train(X, y, n_images=40)                      # 10 images per stream, 3 steps each
    with open_run(str(path)) as rec:
        ix = rec.index()
        np.testing.assert_array_equal(ix["step"], np.r_[1:10, 22:31])
        np.testing.assert_array_equal(ix["image_count"], np.repeat([0, 1, 2, 7, 8, 9], 3))
