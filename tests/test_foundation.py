"""The foundation: model-file validation, the counter-based RNG, run files and the CLI's error path."""

import os
import subprocess
import sys
import textwrap

import h5py
import numba
import numpy as np
import pytest

from spikefa import rng
from spikefa.cli import main as cli_main
from spikefa.config import Field, load_model, parse_override, resolve
from spikefa.errors import ConfigError, OutputError
from spikefa.runfile import RunFile, check_writable

SCHEMA = {
    "seed": Field(0, "int", min=0),
    "net": {"sizes": Field([4, 3], "list[int]", min=1, min_len=2),
            "unit": Field("tanh", "str", choices=("linear", "tanh", "logistic"))},
    "train": {"eta": Field(0.1, "float", min=0, min_exclusive=True), "frozen": Field(False, "bool")},
}


def test_resolve_fills_defaults_and_converts():
    p = resolve(SCHEMA, {"train": {"eta": 1}}, "m.toml")
    assert p == {"seed": 0, "net": {"sizes": [4, 3], "unit": "tanh"}, "train": {"eta": 1.0, "frozen": False}}
    assert isinstance(p["train"]["eta"], float)


@pytest.mark.parametrize("data,key", [
    ({"net": {"sizez": [1]}}, "net.sizez"),
    ({"train": {"eta": -1.0}}, "train.eta"),
    ({"train": {"eta": 0}}, "train.eta"),
    ({"net": {"sizes": [4, 0]}}, "net.sizes"),
    ({"net": {"unit": "relu"}}, "net.unit"),
    ({"train": {"frozen": 1}}, "train.frozen"),
    ({"seed": 1.5}, "seed"),
    ({"net": 3}, "net"),
])
def test_bad_values_name_file_and_key(data, key):
    with pytest.raises(ConfigError) as err:
        resolve(SCHEMA, data, "m.toml")
    msg = str(err.value)
    assert msg.startswith("m.toml: ") and f"'{key}" in msg and "\n" not in msg


def test_parse_override():
    assert parse_override("train.eta=0.5") == (["train", "eta"], 0.5)
    assert parse_override("net.unit=tanh") == (["net", "unit"], "tanh")
    assert parse_override("net.sizes=[3, 2]") == (["net", "sizes"], [3, 2])
    with pytest.raises(ConfigError):
        parse_override("noequals")


def test_load_model_unknown_experiment_and_missing_file(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('experiment = "no_such_thing"\n')
    with pytest.raises(ConfigError, match="no_such_thing"):
        load_model(str(f))
    with pytest.raises(ConfigError, match="not found"):
        load_model(str(tmp_path / "absent.toml"))
    f.write_text("experiment = [unclosed\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_model(str(f))


def test_cli_bad_model_file_exits_2_with_one_line(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text('experiment = "no_such_thing"\n')
    assert cli_main(["run", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.toml" in err and "experiment" in err


def test_cli_missing_model_file_exits_2(tmp_path, capsys):
    assert cli_main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_rng_uniform_range_and_independence():
    u = rng.uniform(3, 10, rng.layer_key(1), np.arange(200_000))
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    # neighbouring keys give uncorrelated draws
    for other in (rng.uniform(3, 11, rng.layer_key(1), np.arange(200_000)),
                  rng.uniform(4, 10, rng.layer_key(1), np.arange(200_000)),
                  rng.uniform(3, 10, rng.layer_key(2), np.arange(200_000)),
                  rng.uniform(3, 10, rng.layer_key(1, stream=1), np.arange(200_000))):
        assert abs(np.corrcoef(u, other)[0, 1]) < 0.01
        assert not np.array_equal(u, other)
    # same key, same numbers
    assert np.array_equal(u[:100], rng.uniform(3, 10, rng.layer_key(1), np.arange(100)))


def test_rng_numba_matches_numpy():
    draw = numba.njit(rng.hash_uniform)

    @numba.njit
    def fill(seed, step, layer, out):
        for i in range(out.size):
            out[i] = draw(np.uint64(seed), np.uint64(step), np.uint64(layer), np.uint64(i))

    out = np.empty(5000, np.float32)
    for step in (0, 1, 123456789):
        fill(11, step, rng.layer_key(3, stream=5), out)
        assert np.array_equal(out, rng.uniform(11, step, rng.layer_key(3, stream=5), np.arange(5000)))


def test_rng_cuda_simulator_matches_numpy():
    code = textwrap.dedent("""
        import warnings; warnings.simplefilter("ignore")
        import numpy as np
        from numba import cuda
        from spikefa import rng
        draw = cuda.jit(device=True)(rng.hash_uniform)
        @cuda.jit
        def fill(seed, step, layer, out):
            i = cuda.grid(1)
            if i < out.size:
                out[i] = draw(np.uint64(seed), np.uint64(step), np.uint64(layer), np.uint64(i))
        d = cuda.device_array(300, np.float32)
        fill[3, 128](11, 77, rng.layer_key(2), d)
        assert np.array_equal(d.copy_to_host(), rng.uniform(11, 77, rng.layer_key(2), np.arange(300)))
        print("same")
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "same" in res.stdout


def test_bernoulli_matches_threshold():
    p = np.linspace(0, 1, 1000, dtype=np.float32)
    s = rng.bernoulli(5, 2, 0, p)
    u = rng.uniform(5, 2, 0, np.arange(1000))
    assert np.array_equal(s, (u < p).astype(np.float32))
    assert s[0] == 0 and s[-1] == 1


def test_runfile_appends_and_keeps_status(tmp_path):
    from spikefa.config import Model
    m = Model("x", {"seed": 1, "train": {"eta": 0.1}}, "m.toml", "t")
    path = str(tmp_path / "r.h5")
    with RunFile(path, m) as out:
        for i in range(3):
            out.append("fa/nse", float(i))
            out.append("fa/angles", np.full(4, i, np.float32))
        out.put("W", np.eye(3))
        out.set_summary(final=0.5)
        out.set_status("finished")
    with h5py.File(path, "r") as h5:
        assert list(h5["metrics/fa/nse"][:]) == [0, 1, 2]
        assert h5["metrics/fa/angles"].shape == (3, 4)
        assert h5.attrs["status"] == "finished"
        assert h5["params"].attrs["train.eta"] == 0.1
        assert h5["summary"].attrs["final"] == 0.5
        assert "spikefa_version" in h5.attrs


def test_unwritable_output_is_refused_before_work(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        check_writable(str(tmp_path / "missing" / "r.h5"))
    with pytest.raises(OutputError, match="folder"):
        check_writable(str(tmp_path))


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(os.path.join(os.path.dirname(__file__), "..", "models"))
                                        if f.endswith(".toml")))
def test_every_shipped_model_file_is_valid(name):
    path = os.path.join(os.path.dirname(__file__), "..", "models", name)
    full, quick = load_model(path), load_model(path, quick=True)
    assert full.experiment == quick.experiment
