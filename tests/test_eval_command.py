"""spikefa eval CKPT: the test error of a checkpoint, with no training."""

import pytest

from spikefa import cli
from spikefa.evaluate import evaluate_checkpoint
from spikefa.runner import DEFAULT_MODEL, run_file


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "demo.h5"
    _, rows = run_file(DEFAULT_MODEL, str(out), quick=True, show_progress=False, echo=False,
                       overrides=["train.checkpoint_min_s=0"])    # a short run writes none by default
    return out, rows[0]


def test_eval_gives_the_runs_final_test_error(finished_run):
    out, row = finished_run
    result = evaluate_checkpoint(row["checkpoint"])
    assert result["error"] == row["test_error"] and result["on"] == "test"
    assert result["images_trained"] == row["images"] and result["dataset"] == "synthetic"


def test_test_steps_can_change_and_are_checked(finished_run):
    _, row = finished_run
    assert evaluate_checkpoint(row["checkpoint"], test_steps=2, test_size=40)["test_steps"] == 2
    code = cli.main(["eval", row["checkpoint"], "--test-steps", "0"])
    assert code == 2


def test_eval_without_the_run_file_uses_data_that_fits_the_network(finished_run, tmp_path):
    import shutil

    _, row = finished_run
    alone = tmp_path / "alone.ckpt.h5"
    shutil.copy(row["checkpoint"], alone)
    result = evaluate_checkpoint(str(alone), test_size=50)
    assert result["dataset"] == "synthetic" and result["images"] == 50


def test_cli_prints_a_table(finished_run, capsys):
    _, row = finished_run
    assert cli.main(["eval", row["checkpoint"]]) == 0
    assert "error" in capsys.readouterr().out


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "none.ckpt.h5")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def validated_run(tmp_path_factory):
    """A short run that held images out of training and chose its test steps on them."""
    out = tmp_path_factory.mktemp("eval_val") / "val.h5"
    _, rows = run_file(DEFAULT_MODEL, str(out), quick=True, show_progress=False, echo=False,
                       overrides=["train.checkpoint_min_s=0", "data.validation_size=60",
                                  "train.test_steps_choices=[1,3,6]"])
    return out, rows[0]


def test_validation_images_are_the_held_out_ones(validated_run):
    from spikefa.experiments.spiking import load_data, split_validation
    from spikefa.runfile import read_params
    from spikefa.spiking import load_checkpoint

    out, row = validated_run
    result = evaluate_checkpoint(row["checkpoint"], on="validation")
    assert result["on"] == "validation" and result["images"] == 60
    assert result["error"] == row["validation_error"]   # what the run wrote at its last evaluation
    params = read_params(str(out))
    X, y, _, _ = load_data(params)
    _, _, Xv, yv = split_validation(params, X, y)
    net, _ = load_checkpoint(row["checkpoint"])
    assert result["error"] == net.test(Xv, yv)


def test_the_run_and_eval_choose_the_same_test_steps(validated_run):
    import h5py
    import numpy as np

    from spikefa.evaluate import choose_checkpoint_test_steps

    out, row = validated_run
    rows = choose_checkpoint_test_steps(row["checkpoint"], [1, 3, 6])
    val = [r for r in rows if r["on"] == "validation"]
    test = [r for r in rows if r["on"] == "test"]
    assert [r["test_steps"] for r in val] == [1, 3, 6] and len(test) == 1
    errors = [r["error"] for r in val]
    best = min(range(3), key=lambda i: (errors[i], [1, 3, 6][i]))
    assert test[0]["test_steps"] == [1, 3, 6][best] == row["chosen_test_steps"]
    assert test[0]["error"] == row["chosen_test_error"]
    assert row["chosen_validation_error"] == errors[best]
    # the test set is tested at the chosen M only, and that is the plain test error at that M
    assert test[0]["error"] == evaluate_checkpoint(row["checkpoint"], test_steps=test[0]["test_steps"])["error"]
    with h5py.File(out, "r") as f:
        ds = f["results/fa/test_steps_choice"]
        assert np.allclose(ds[()], errors) and ds.attrs["chosen"] == row["chosen_test_steps"]
        assert list(ds.attrs["candidates"]) == [1, 3, 6]


def test_choosing_leaves_the_network_as_it_was(validated_run):
    from spikefa.experiments.spiking import load_data, split_validation
    from spikefa.runfile import read_params
    from spikefa.spiking import load_checkpoint
    from spikefa.spiking.test_steps_choice import choose_test_steps

    out, row = validated_run
    params = read_params(str(out))
    X, y, Xt, yt = load_data(params)
    _, _, Xv, yv = split_validation(params, X, y)
    net, _ = load_checkpoint(row["checkpoint"])
    before = (net.params, net.images_seen, net.step)
    choice = choose_test_steps(net, [2, 4], Xv, yv)
    assert (net.params, net.images_seen, net.step) == before
    assert choice.chosen in (2, 4) and choice.test_error != choice.test_error   # nan: no test set given


def test_eval_several_test_steps_and_choose_from_the_cli(validated_run, capsys):
    _, row = validated_run
    assert cli.main(["eval", row["checkpoint"], "--test-steps", "1,3", "--on", "validation"]) == 0
    out = capsys.readouterr().out
    assert out.count("validation") >= 2
    assert cli.main(["eval", row["checkpoint"], "--test-steps", "1,3,6", "--choose"]) == 0
    assert "yes" in capsys.readouterr().out


def test_bad_eval_requests_are_one_line(finished_run, capsys):
    _, row = finished_run
    # the demo run held nothing out: validation images would be training images
    assert cli.main(["eval", row["checkpoint"], "--on", "validation"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "validation_size" in err[0]
    assert cli.main(["eval", row["checkpoint"], "--test-steps", "5", "--choose"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_choosing_test_steps_needs_validation_images(tmp_path):
    from spikefa.config import load_model
    from spikefa.errors import ConfigError

    with pytest.raises(ConfigError, match="validation_size"):
        load_model(DEFAULT_MODEL, overrides=["train.test_steps_choices=[5,20]"])
