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
    assert result["test_error"] == row["test_error"]
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
    assert result["dataset"] == "synthetic" and result["test_images"] == 50


def test_cli_prints_a_table(finished_run, capsys):
    _, row = finished_run
    assert cli.main(["eval", row["checkpoint"]]) == 0
    assert "test_error" in capsys.readouterr().out


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "none.ckpt.h5")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
