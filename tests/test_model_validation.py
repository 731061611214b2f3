"""Malformed model files and --set values stop with one line naming where the value came from and
what is allowed (exit code 2), before any work: no traceback, no hang, no MemoryError."""

import os

import pytest

from spikefa import cli
from spikefa.config import load_model
from spikefa.errors import ConfigError, OutputError

BASE = """experiment = "spiking"
[network]
sizes = [144, 40, 20]
units_per_class = 2
[data]
dataset = "synthetic"
[train]
images = 20
eval_every = 20
"""


def network_with(line: str) -> str:
    """BASE with one more [network] line."""
    return BASE.replace("units_per_class = 2", "units_per_class = 2\n" + line)


def train_with(line: str) -> str:
    """BASE with one more [train] line."""
    return BASE.replace("eval_every = 20", "eval_every = 20\n" + line)


def write(tmp_path, body, name="m.toml"):
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return str(path)


# (text appended to BASE's tables, or a whole file as bytes; a fragment the message must hold)
BAD_FILES = [
    (BASE.replace("images = 20", "images = 9223372036854775807"), "train.images"),       # 2^63 - 1: a hang
    (BASE.replace("images = 20", "images = 1e400"), "train.images"),                     # inf
    (BASE.replace("units_per_class = 2", "units_per_class = 7"), "divisor of the output layer size 20"),
    (BASE.replace("units_per_class = 2", "units_per_class = 20"), "2 classes or more"),
    (BASE.replace("[144, 40, 20]", "[144, 40, -20]"), "network.sizes"),
    (BASE.replace("[144, 40, 20]", "[144, 100000000, 20]"), "network.sizes"),         # MemoryError before
    (BASE.replace("[144, 40, 20]", "[144, 100000, 100000, 100000, 20]"), "weights in all"),
    (BASE.replace("[144, 40, 20]", "[144]"), "network.sizes"),
    (BASE + "[record]\nflush_interval_s = nan\n", "record.flush_interval_s"),
    (BASE + "[record]\nflush_interval_s = inf\n", "record.flush_interval_s"),
    (network_with("feedback_scale = inf"), "network.feedback_scale"),
    (network_with("feedback_scale = nan"), "network.feedback_scale"),
    (network_with("init_scale = -inf"), "network.init_scale"),
    (network_with("gamma = 1.0"), "network.gamma"),
    (network_with("sparse = 1.0"), "network.sparse"),
    (network_with("tau = nan"), "network.tau"),
    (network_with("streams = 1000000"), "network.streams"),
    (train_with("steps_per_image = 100000000"), "train.steps_per_image"),
    (train_with("test_steps = 0"), "train.test_steps"),
    (network_with("tua = 0.5"), "did you mean 'network.tau'"),
    (BASE.replace("[train]", "[train]\ntau = 0.5"), "did you mean 'network.tau'"),
    (BASE.replace('experiment = "spiking"', 'experiment = "spikng"'), "did you mean 'spiking'"),
    (BASE.replace('experiment = "spiking"', "experiment = 3"), "key 'experiment'"),
    (BASE + "seed = 18446744073709551616\n", "seed"),
    (BASE.replace("[data]", "seed = 18446744073709551616\n[data]"), "seed"),   # > 2^63: HDF5 dtype error before
    (BASE + "[record]\nblock_steps = 4611686018427387904\n", "record.block_steps"),
    (BASE + "[[record.recorders]]\nlayers = [1]\nwindows = [[0, 9223372036854775807]]\n", "record.recorders"),
    (BASE + "[[record.recorders]]\nlayers = [7]\n", "layer out of range"),
    (BASE + "[[record.recorders]]\nstream = 3\n", "stream out of range"),
    (BASE + "[quick.train]\nimages = -1\n", "[quick]"),
    ("quick = 3\n" + BASE, "'quick'"),
    (BASE.replace("[network]", "network = 5\n[net]"), "network"),
    ("experiment = 'spiking'\nx = " + "[" * 500 + "]" * 500 + "\n", "nest"),   # RecursionError before
    ("experiment = 'spiking'\nx = " + "{a = " * 300 + "1" + "}" * 300 + "\n", "nest"),
    (b"\xff\xfe\x00e\x00x\x00p", "binary"),
    ("experiment = 'spiking'\ntitle = 'caf\xe9'\n".encode("latin-1"), "not UTF-8"),
    (b"experiment = 'spiking'\n@@@ ===\n", "not valid TOML"),
    ("experiment = [unclosed\n", "not valid TOML"),
    ("", "missing key 'experiment'"),
]


@pytest.mark.parametrize("body, fragment", BAD_FILES, ids=[f"file{i}" for i in range(len(BAD_FILES))])
def test_malformed_model_file_is_one_line_naming_the_file(tmp_path, body, fragment):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_model(path)
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg and path in msg, msg
    assert "np.int" not in msg and "np.float" not in msg


BAD_SETS = [
    ("network.tua=0.5", "--set network.tua=0.5: unknown key 'network.tua' (did you mean 'network.tau'?)"),
    ("train.tau=0.5", "did you mean 'network.tau'"),
    ("network.gamma=1.0", "--set network.gamma=1.0: key 'network.gamma' = 1.0: expected"),
    ("network.units_per_class=7", "--set network.units_per_class=7"),
    ("network.tau=nan", "--set network.tau=nan"),
    ("network.eta=inf", "--set network.eta=inf"),
    ("network.eta=-inf", "--set network.eta=-inf"),
    ("train.images=9223372036854775808", "<= 1000000000"),
    ("train.images=1e9999", "--set train.images"),
    ("train.images=ten", "'ten'"),
    ("network.sizes=[144, 1e9, 20]", "network.sizes"),
    ("network.sizes=[144, 40, 20", "network.sizes"),     # not TOML: read as a string
    ("record.flush_interval_s=nan", "--set record.flush_interval_s=nan"),
    ("network=3", "'network' is a table"),
    ("network.tau.x=1", "unknown key 'network.tau.x'"),
    ("=3", "the key is empty"),
    ("noequals", "expected KEY=VALUE"),
    ("x=" + "[" * 400 + "]" * 400, "nest"),
    ("network.backend=gpu", "one of numpy, cpu, cuda"),
]


@pytest.mark.parametrize("override, fragment", BAD_SETS, ids=[f"set{i}" for i in range(len(BAD_SETS))])
def test_bad_set_blames_the_set_not_the_file(tmp_path, override, fragment):
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError) as err:
        load_model(path, overrides=[override])
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg, msg
    if "did you mean" in fragment or "unknown key" in fragment:
        assert path not in msg


def test_bad_seed_option_is_named():
    with pytest.raises(ConfigError, match="^--seed: key 'seed' = -1"):
        load_model(os.path.join(os.path.dirname(__file__), "..", "models", "fig2_linear.toml"), seed=-1)


def test_value_from_quick_table_is_blamed_on_it(tmp_path):
    path = write(tmp_path, BASE + "[quick.network]\nunits_per_class = 7\n")
    with pytest.raises(ConfigError, match=r"\[quick\]"):
        load_model(path, quick=True)


def test_model_path_that_is_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_model(str(tmp_path))


def test_rate_experiment_sizes_are_bounded(tmp_path):
    fig2 = os.path.join(os.path.dirname(__file__), "..", "models", "fig2_linear.toml")
    with pytest.raises(ConfigError, match="network.sizes"):
        load_model(fig2, overrides=["network.sizes=[30, 100000000, 10]"])


def run_cli(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


@pytest.mark.parametrize("extra", [
    ["--set", "network.tua=0.5"], ["--set", "train.images=nan"], ["--seed", "-3"],
    ["--set", "network.units_per_class=7"],
])
def test_cli_exits_2_with_one_line(tmp_path, capsys, extra):
    path = write(tmp_path, BASE)
    code, lines = run_cli(["run", path, "--no-progress", "--out", str(tmp_path / "r.h5"), *extra], capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("spikefa: error: "), lines


@pytest.mark.parametrize("body", [b"\xff\xfe\x00\x01", "x = " + "[" * 3000 + "]" * 3000])
def test_cli_binary_or_deep_file(tmp_path, capsys, body):
    code, lines = run_cli(["run", write(tmp_path, body), "--no-progress"], capsys)
    assert code == 2 and len(lines) == 1, lines


def test_out_that_is_a_folder_is_refused_even_with_overwrite(tmp_path, capsys):
    path = write(tmp_path, BASE)
    for extra in ([], ["--overwrite"]):
        code, lines = run_cli(["run", path, "--out", str(tmp_path), "--no-progress", *extra], capsys)
        assert code == 2 and len(lines) == 1 and "is a folder" in lines[0] and "--overwrite" not in lines[0]


def test_out_that_is_a_device_is_refused(tmp_path, capsys):
    path = write(tmp_path, BASE)
    code, lines = run_cli(["run", path, "--out", os.devnull, "--overwrite", "--no-progress"], capsys)
    assert code == 2 and len(lines) == 1 and "not a regular file" in lines[0]


def test_run_from_a_read_only_folder(tmp_path, capsys, monkeypatch):
    """The default run file goes to runs/ in the working directory; one that cannot be created is one line."""
    path = write(tmp_path, BASE)
    blocked = tmp_path / "cwd"
    blocked.mkdir()
    (blocked / "runs").write_text("a file where the folder would go")   # root ignores chmod; this blocks it too
    monkeypatch.chdir(blocked)
    code, lines = run_cli(["run", path, "--no-progress"], capsys)
    assert code == 2 and len(lines) == 1 and "cannot create the output folder" in lines[0], lines


def test_sweep_out_that_cannot_be_created(tmp_path, capsys):
    from spikefa.runner import make_out_folder

    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="choose another --out"):
        make_out_folder(str(tmp_path / "file" / "sweep" / "runs"))
    fig2 = os.path.join(os.path.dirname(__file__), "..", "models", "fig2_linear.toml")
    code, lines = run_cli(["sweep", fig2, "--quick", "--out", str(tmp_path / "file" / "sweep"), "--no-progress"],
                          capsys)
    assert code == 2 and len(lines) == 1 and "cannot create the output folder" in lines[0], lines
