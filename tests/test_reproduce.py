"""spikefa reproduce: claims read from run files, and a --quick report on a reduced set of parts."""

import math
import os
import re
import shutil

import pytest

from spikefa import reproduce as rp
from spikefa.cli import main as cli_main
from spikefa.config import load_model
from spikefa.errors import ConfigError
from spikefa.runfile import RunFile

MODELS = os.path.join(os.path.dirname(__file__), "..", "models")

PROBE_MODEL = """
experiment = "fig2_linear"
title = "probe"
"""


def _run_file(path, finals, b_final):
    """A run file whose arm "a" ends each seed at finals[k] (NSE) and arm "b" at b_final."""
    model = load_model(text=PROBE_MODEL)
    with RunFile(path, model) as out:
        for k, v in enumerate(finals):
            for x in (1.0, v):
                out.append(f"a/seed{k}/nse", x)
        out.append("b/nse", 2.0)
        out.append("b/nse", b_final)
        out.set_summary(**{"0.arm": "a", "0.score": 3.0, "1.arm": "b", "1.score": 6.0})
        out.set_status("finished")
    return path


class _Task:
    def __init__(self, summary):
        self.summary = summary


def test_claims_read_our_numbers_from_run_files(tmp_path):
    paths = [_run_file(str(tmp_path / "one.h5"), [0.1, 0.2], 0.5), _run_file(str(tmp_path / "two.h5"), [0.3], 0.6)]
    runs = rp.Runs(rp.PARTS[0], None, paths, [_Task([{"arm": "a", "score": 3.0}, {"arm": "b", "score": 6.0}])])
    assert rp.Metric("a", "nse").values(runs) == pytest.approx([0.1, 0.2, 0.3])
    assert rp.Metric("a", "nse", at="first", scale=100).values(runs) == pytest.approx([100, 100, 100])
    assert rp.Metric("b", "nse", at="max").values(runs) == pytest.approx([2.0, 2.0])
    # no examples_seen in these files: the x axis is the evaluation index
    assert rp.AtExamples("a", "nse", 0).values(runs) == pytest.approx([1.0, 1.0, 1.0])
    assert rp.AtExamples("a", "nse", 5).values(runs) == pytest.approx([0.1, 0.2, 0.3])
    assert rp.Summary("score", (("arm", "b"),)).values(runs) == [6.0]
    assert rp.Ratio(rp.Metric("b", "nse"), rp.Metric("a", "nse")).values(runs) == pytest.approx([5.0, 3.0])
    p = rp.TTest(rp.Metric("a", "nse"), rp.Metric("b", "nse")).values(runs)
    assert len(p) == 1 and 0 < p[0] < 0.05

    claim = rp.Claim("x", "Fig. 0", "a ends low", "0.2", rp.Metric("a", "nse"), rp.Check("<=", 0.25))
    result = rp.evaluate(claim, runs, quick=False)
    assert result.status == "reached" and result.mean == pytest.approx(0.2) and result.n == "3"
    assert result.std == pytest.approx(0.1)
    strict = rp.Claim("x", "Fig. 0", "a ends lower", "0.1", rp.Metric("a", "nse"), rp.Check("<", 0.1),
                      full_size_only=True)
    missed = rp.evaluate(strict, runs, quick=True)
    assert missed.status == "missed" and "quick" in missed.note
    explained = rp.Claim("x", "Fig. 0", "a ends lower", "0.1", rp.Metric("a", "nse"), rp.Check("<", 0.1),
                         missed_because="see the ablation")
    assert rp.evaluate(explained, runs, quick=False).note == "see the ablation"
    assert rp.evaluate(explained, runs, quick=True).note == ""       # a quick miss proves nothing
    absent = rp.evaluate(rp.Claim("x", "Fig. 0", "c", "1", rp.Metric("c", "nse"), rp.Check("<", 1)), runs, False)
    assert absent.status == "no data" and math.isnan(absent.mean)


def test_a_mean_next_to_its_bound_is_printed_with_the_digits_that_tell_them_apart():
    claim = rp.Claim("x", "Fig. 4", "error", "1.8%", rp.Metric("a", "err"), rp.Check("<=", 1.8), unit="%")

    def ours(values):
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        status = "reached" if claim.check(mean) else "missed"
        return rp.format_ours(rp.ClaimResult(claim, values, mean, std, str(len(values)), status))

    assert ours([1.63, 1.98, 1.86, 1.74]).startswith("1.802 ± 0.151%")      # missed by 0.0025: not "1.8"
    assert ours([1.7, 1.9]).startswith("1.8 ± ")                            # exactly on the bound
    assert ours([1.5, 1.7]).startswith("1.6 ± ")                            # far from it: three digits


def test_every_claim_names_a_part_and_every_part_a_model_file():
    names = rp.part_names()
    assert len(set(names)) == len(names)
    assert {c.part for c in rp.CLAIMS} <= set(names)
    for part in rp.PARTS:
        assert part.model.endswith(".toml") and part.seeds_quick >= 1 and part.seeds_full >= part.seeds_quick


def test_the_help_names_every_part(capsys):
    with pytest.raises(SystemExit):
        cli_main(["reproduce", "--help"])
    only = " ".join(capsys.readouterr().out.split()).split("--only PARTS", 2)[2].split("--")[0]
    assert [name for name in rp.part_names() if f" {name}," not in only.replace(" compare", " compare,")] == []


def test_unknown_part_is_a_config_error():
    with pytest.raises(ConfigError, match="fig9"):
        rp.select_parts("fig2,fig9")


def test_quick_report_has_a_row_per_claim(tmp_path, capsys):
    # a models folder holding Figure 2's file only: fig5 is selected but cannot run
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(os.path.join(MODELS, "fig2_linear.toml"), models)
    out = tmp_path / "report"
    argv = ["reproduce", "--quick", "--only", "fig2,fig5", "--seeds", "2", "--workers", "2",
            "--models", str(models), "--out", str(out), "--no-progress"]
    assert cli_main(argv) == 0
    text = (out / "report.md").read_text()
    claims = [c for c in rp.CLAIMS if c.part in ("fig2", "fig5")]
    table = text.split("## Claims", 1)[1].split("\n\n")[1].splitlines()
    rows = [line for line in table[2:] if line.startswith("|")]
    assert len(rows) == len(claims)
    for claim, row in zip(claims, rows):
        assert claim.text in row
        verdict = row.rstrip(" |").rsplit("|", 1)[1]
        if claim.part == "fig5":
            assert "no data" in verdict
        else:
            assert re.search(r"reached|missed", verdict) and "(n=2)" in row
    assert "| fig5 | Figure 5a, c | models/fig5_quadratic.toml | not run |" in text
    assert "| fig2 | Figure 2a, b | models/fig2_linear.toml | quick | 2 | 2 / 0 |" in text
    # figures beside the report, linked relatively
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert os.path.isfile(out / link)
    assert "fig2/figures/learning_curves.png" in text
    assert "## Machine" in text and "cores" in text and "numba" in text
    assert "claims reached; report:" in capsys.readouterr().out


def test_full_parts_run_full_size_and_the_others_quick():
    parts = rp.select_parts("fig2,fig3d,fig5")
    assert rp.part_sizes(parts, True, None) == {"fig2": "quick", "fig3d": "quick", "fig5": "quick"}
    assert rp.part_sizes(parts, False, None) == {"fig2": "full", "fig3d": "full", "fig5": "full"}
    sizes = rp.part_sizes(parts, True, "fig2,fig5")
    assert sizes == {"fig2": "full", "fig3d": "quick", "fig5": "full"}
    planned, missing = rp.plan_parts(parts, "/nonexistent-out", sizes, MODELS)
    assert not missing
    by_name = {part.name: plan for part, plan in planned}
    assert not by_name["fig2"].quick and len(by_name["fig2"].seeds) == rp.PARTS[0].seeds_full
    assert by_name["fig3d"].quick and len(by_name["fig3d"].tasks) == 5      # one task per arm
    # a quick part of a mixed report never writes into the full-size folder of the same part
    assert by_name["fig3d"].out_dir.endswith("fig3d-quick") and by_name["fig2"].out_dir.endswith("fig2")
    assert rp._command_line(sizes, "fig2,fig3d,fig5", None, None, None) == \
        "spikefa reproduce --full fig2,fig5 --only fig2,fig3d,fig5"


def test_part_scoped_set_overrides_the_parts_own():
    assert rp.parse_part_sets(["fig4:train.images=50", "fig2:train.examples=100"]) == \
        {"fig4": ["train.images=50"], "fig2": ["train.examples=100"]}
    for bad in ("train.images=50", "fig4:train.images", "fig9:train.images=1"):
        with pytest.raises(ConfigError):
            rp.parse_part_sets([bad])
    parts = rp.select_parts("fig4")
    # 32 streams x 60 images: fig4's three 20-image recording windows fit without overlapping
    # (checked when planned)
    planned, _ = rp.plan_parts(parts, "/nonexistent-out", {"fig4": "quick"}, MODELS,
                               part_sets=rp.parse_part_sets(["fig4:train.images=1920"]))
    (part, plan), = planned
    assert plan.grid == {"train.images": ["1920"]} and plan.tasks[0].params["train"]["images"] == 1920


def test_a_study_resumed_from_committed_runs_summarises_as_one_never_stopped(tmp_path, capsys):
    """A fresh machine has only what earlier sessions committed: the finished run files of the
    report folder. Reproducing into a new folder takes those and runs only the rest."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(os.path.join(MODELS, "fig2_linear.toml"), models)
    kw = dict(quick=True, only="fig2", seeds=3, workers=1, models=str(models), show_progress=False)
    whole = rp.reproduce(str(tmp_path / "whole"), **kw)
    committed = tmp_path / "committed"
    shutil.copytree(tmp_path / "whole", committed)
    runs = sorted((committed / "fig2" / "runs").glob("*.h5"))
    assert len(runs) == 3
    runs[1].unlink()                                  # the task that was still going when it stopped
    (committed / "fig2" / "sweep.json").unlink()      # only run files are trusted
    interim = rp.reproduce(str(committed), report_only=True, **kw)     # runs nothing
    assert len(list((committed / "fig2" / "runs").glob("*.h5"))) == 2
    text = (committed / "report.md").read_text()
    assert "**Partial:** fig2: 2 of 3 runs finished" in text and "| 2 / 0 of 3 |" in text
    assert all(r.n in ("2", "0", "2+2") for r in interim.claims)
    capsys.readouterr()
    resumed = rp.reproduce(str(tmp_path / "resumed"), reuse_from=str(committed), **kw)
    assert "fig2: 2 finished runs taken from" in capsys.readouterr().out
    assert [r.values for r in resumed.claims] == [r.values for r in whole.claims]
    assert [r.status for r in resumed.claims] == [r.status for r in whole.claims]
    summary = lambda root: (root / "fig2" / "summary.txt").read_text().split("\n", 1)[1]
    assert summary(tmp_path / "resumed") == summary(tmp_path / "whole")
    # a run of another model file is not taken (its task runs anew)
    from spikefa.reproduce.runs import reuse_finished_runs

    def plan(out, sets=()):
        (_, p), = rp.plan_parts(rp.select_parts("fig2"), str(tmp_path / out), {"fig2": "quick"}, str(models),
                                seeds=3, part_sets=rp.parse_part_sets(list(sets)))[0]
        return p

    assert reuse_finished_runs(plan("changed", ["fig2:train.examples=123"]), str(committed / "fig2")) == 0
    assert reuse_finished_runs(plan("same"), str(committed / "fig2")) == 2


def test_a_claim_reads_the_number_its_figure_draws(tmp_path):
    from spikefa.plot import metrics as plot_metrics

    path = _run_file(str(tmp_path / "one.h5"), [0.1, 0.2], 0.5)
    runs = rp.Runs(rp.PARTS[0], None, [path], [])
    with plot_metrics.open_file(path) as h5:
        drawn = plot_metrics.series(plot_metrics.arms_with(h5, "nse")["a"], "nse")
    assert rp.Metric("a", "nse").values(runs) == pytest.approx(drawn.values[:, -1])
    claim = rp.evaluate(rp.Claim("x", "Fig. 0", "a", "", rp.Metric("a", "nse"), rp.Check("<", 1)), runs, False)
    assert claim.mean == pytest.approx(drawn.mean()[-1])


def test_gap_share_places_one_arm_between_two(tmp_path):
    paths = [_run_file(str(tmp_path / "one.h5"), [0.1, 0.3], 0.5)]
    runs = rp.Runs(rp.PARTS[0], None, paths, [])
    share = rp.GapShare(rp.Metric("a", "nse"), rp.Metric("a", "nse", at="min"), rp.Metric("b", "nse"))
    # a ends at 0.2 on average, its minimum is the same, b ends at 0.5: a sits on "near"
    assert share.values(runs) == pytest.approx([0.0])
    share = rp.GapShare(rp.Metric("b", "nse"), rp.Metric("a", "nse"), rp.Metric("b", "nse", at="max"))
    assert share.values(runs) == pytest.approx([(0.5 - 0.2) / (2.0 - 0.2)])


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    argv = ["reproduce", "--quick", "--only", "fig2", "--out", str(blocker / "report"), "--no-progress"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot create the output folder" in err[0] and "--out" in err[0]
