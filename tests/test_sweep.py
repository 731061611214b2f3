"""Sweeps on Dask: seeds x values, the index, resume, failing tasks, a worker killed mid-task.

One local 2-worker cluster (made by spikefa.sweep.dask_client, as `spikefa sweep` makes it) serves
the whole module; the tasks are Figure 2's linear network at its --quick size with two rules.
"""

import json
import os
import signal

import h5py
import pytest

from spikefa.cli import main as cli_main
from spikefa.errors import ConfigError, OutputError
from spikefa.sweep import (dask_client, load_index, parse_grid, plan_sweep, run_sweeps, split_values,
                           write_json_atomic)

MODEL = os.path.join(os.path.dirname(__file__), "..", "models", "fig2_linear.toml")
TWO_RULES = 'train.rules=["bp","fa"]'


@pytest.fixture(scope="module")
def cluster():
    with dask_client(workers=2) as info:
        yield info


def _params(path):
    with h5py.File(path, "r") as h5:
        return json.loads(h5.attrs["params"]), h5.attrs["status"]


# -- planning, without a cluster -------------------------------------------------------------------

def test_values_split_at_top_level_commas_only():
    assert split_values("0.01,0.1") == ["0.01", "0.1"]
    assert split_values('[30,20,10],[30,20,10,10]') == ["[30,20,10]", "[30,20,10,10]"]
    assert split_values('"a,b",c') == ['"a,b"', "c"]


@pytest.mark.parametrize("items,fragment", [
    (["train.eta.bp"], "expected KEY=V1,V2"),
    (["train.eta.bp=0.1,"], "empty key or value"),
    (["seed=1,2"], "--seeds"),
    (["train.examples=1", "train.examples=2"], "given twice"),
])
def test_bad_set_is_a_config_error(items, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_grid(items)


def test_every_combination_is_validated_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="train.examples"):
        plan_sweep(MODEL, seeds=2, sets=["train.examples=10,-1"], out_dir=str(tmp_path), quick=True)


def test_plan_names_tasks_by_varied_values_and_seed(tmp_path):
    plan = plan_sweep(MODEL, seeds=2, first_seed=3, sets=["train.eta.fa=0.01,0.02", TWO_RULES],
                      out_dir=str(tmp_path), quick=True)
    assert [t.id for t in plan.tasks] == ["train.eta.fa=0.01,seed=3", "train.eta.fa=0.01,seed=4",
                                          "train.eta.fa=0.02,seed=3", "train.eta.fa=0.02,seed=4"]
    assert len({t.out for t in plan.tasks}) == 4
    assert plan.tasks[3].params["train"]["eta"]["fa"] == 0.02 and plan.tasks[3].params["seed"] == 4
    assert plan.tasks[0].params["train"]["rules"] == ["bp", "fa"]


def test_sweep_of_another_experiment_is_refused_in_the_same_folder(tmp_path):
    write_json_atomic(str(tmp_path / "sweep.json"), {"experiment": "fig5_quadratic", "model": "m.toml", "tasks": []})
    plan = plan_sweep(MODEL, seeds=1, out_dir=str(tmp_path), quick=True)
    with pytest.raises(OutputError, match="fig5_quadratic"):
        run_sweeps([plan], show_progress=False, echo=False)


def test_index_is_replaced_whole(tmp_path):
    path = str(tmp_path / "sweep.json")
    write_json_atomic(path, {"tasks": [{"id": "a"}]})
    write_json_atomic(path, {"tasks": [{"id": "b"}]})
    assert load_index(path)["tasks"] == [{"id": "b"}]
    assert os.listdir(tmp_path) == ["sweep.json"]


# -- on the cluster -----------------------------------------------------------------------------------

def test_workers_limit_numba_threads_to_their_share_of_the_cores(cluster):
    share = str(max(1, (os.cpu_count() or 1) // 2))
    seen = cluster.client.run(lambda: os.environ.get("NUMBA_NUM_THREADS"))
    assert len(seen) == 2 and set(seen.values()) == {share}


def test_sweep_of_two_seeds_by_two_values(cluster, tmp_path):
    plan = plan_sweep(MODEL, seeds=2, sets=["train.eta.fa=0.01,0.005", TWO_RULES], out_dir=str(tmp_path),
                      quick=True)
    (outcome,) = run_sweeps([plan], client_info=cluster, show_progress=False, echo=False)
    index = load_index(os.path.join(tmp_path, "sweep.json"))
    assert index["counts"] == {"pending": 0, "running": 0, "finished": 4, "failed": 0}
    for task in index["tasks"]:
        params, status = _params(os.path.join(tmp_path, task["out"]))
        assert status == "finished" and task["attempts"] == 1 and task["worker"].startswith("tcp://")
        assert params["seed"] == task["seed"]
        assert params["train"]["eta"]["fa"] == float(task["settings"]["train.eta.fa"])
        assert [row["arm"] for row in task["summary"]] == ["bp", "fa"]
    summary = json.load(open(tmp_path / "summary.json"))
    groups = {(g["settings"]["train.eta.fa"], g["labels"]["arm"]): g for g in summary["groups"]}
    assert set(groups) == {(eta, arm) for eta in ("0.01", "0.005") for arm in ("bp", "fa")}
    fa = groups[("0.005", "fa")]["metrics"]["final_nse"]
    runs = [t["summary"][1]["final_nse"] for t in index["tasks"] if t["settings"]["train.eta.fa"] == "0.005"]
    assert fa["n"] == 2 and fa["mean"] == pytest.approx(sum(runs) / 2)
    # bp does not depend on fa's learning rate: same seed, same numbers
    assert groups[("0.01", "bp")]["metrics"]["final_nse"]["values"] == \
        groups[("0.005", "bp")]["metrics"]["final_nse"]["values"]
    text = (tmp_path / "summary.txt").read_text()
    assert "4 finished, 0 failed of 4 tasks" in text and "final_nse" in text
    assert outcome.skipped == 0 and outcome.task_seconds > 0


def test_rerun_after_interruption_skips_finished_tasks(cluster, tmp_path):
    sets = [TWO_RULES, "train.eta.fa=0.01,0.005"]

    def stop_after_first(plan, task, event):
        if event == "finished":
            raise KeyboardInterrupt

    plan = plan_sweep(MODEL, seeds=2, sets=sets, out_dir=str(tmp_path), quick=True)
    with pytest.raises(KeyboardInterrupt):
        run_sweeps([plan], client_info=cluster, show_progress=False, echo=False, on_event=stop_after_first)
    index = load_index(os.path.join(tmp_path, "sweep.json"))
    done = {t["id"]: os.path.getmtime(os.path.join(tmp_path, t["out"]))
            for t in index["tasks"] if t["status"] == "finished"}
    assert len(done) == 1 and index["counts"]["running"] == 0 and index["counts"]["pending"] == 3
    # On this shared cluster the task running at Ctrl-C goes on writing its file; the rerun's task
    # for it waits for that writer instead of failing on the HDF5 file lock.

    ran = []
    plan = plan_sweep(MODEL, seeds=2, sets=sets, out_dir=str(tmp_path), quick=True)
    (outcome,) = run_sweeps([plan], client_info=cluster, show_progress=False, echo=False,
                            on_event=lambda p, t, e: ran.append(t.id) if e == "running" else None)
    assert plan.counts()["finished"] == 4, [(t.id, t.status, t.error) for t in plan.tasks]
    assert outcome.skipped >= 1 and not set(done) & set(ran)
    for task in plan.tasks:
        if task.id in done:
            assert os.path.getmtime(os.path.join(tmp_path, task.out)) == done[task.id]


def test_changed_parameters_rerun_a_finished_task(cluster, tmp_path):
    plan = plan_sweep(MODEL, seeds=1, sets=[TWO_RULES], out_dir=str(tmp_path), quick=True)
    run_sweeps([plan], client_info=cluster, show_progress=False, echo=False)
    # same task id (train.examples is not varied), different parameters: must not be skipped
    plan = plan_sweep(MODEL, seeds=1, sets=[TWO_RULES, "train.examples=100"], out_dir=str(tmp_path), quick=True)
    (outcome,) = run_sweeps([plan], client_info=cluster, show_progress=False, echo=False)
    assert outcome.skipped == 0
    params, status = _params(os.path.join(tmp_path, plan.tasks[0].out))
    assert status == "finished" and params["train"]["examples"] == 100


def test_a_replaced_run_file_gives_its_own_summary(cluster, tmp_path):
    """A finished run file copied over another with the same parameters (a committed run taken
    in): the index summarises the file now there, not what it remembered of the old one."""
    import shutil

    from spikefa.sweep.index import mark_finished_tasks

    a = plan_sweep(MODEL, seeds=2, sets=[TWO_RULES], out_dir=str(tmp_path / "a"), quick=True)
    run_sweeps([a], client_info=cluster, show_progress=False, echo=False)
    first, second = (os.path.join(tmp_path / "a", t.out) for t in a.tasks)
    before = {t.id: t.summary for t in a.tasks}
    assert before[a.tasks[0].id] != before[a.tasks[1].id]
    copy = str(tmp_path / "copy.h5")
    shutil.copyfile(second, copy)
    with h5py.File(copy, "r+") as h5:          # seed 1's numbers under seed 0's parameters
        h5.attrs["params"] = json.dumps({**json.loads(h5.attrs["params"]), "seed": 0})
    shutil.copyfile(copy, first)
    again = plan_sweep(MODEL, seeds=2, sets=[TWO_RULES], out_dir=str(tmp_path / "a"), quick=True)
    assert mark_finished_tasks(again) == 2
    assert again.tasks[0].summary == before[a.tasks[1].id]
    os.remove(again.index_path)                 # run files copied in alone: their task time is theirs
    alone = plan_sweep(MODEL, seeds=2, sets=[TWO_RULES], out_dir=str(tmp_path / "a"), quick=True)
    assert mark_finished_tasks(alone) == 2
    for task in alone.tasks:
        with h5py.File(alone.run_path(task), "r") as h5:
            assert task.wall_s == float(h5["summary"].attrs["wall_time_s"]) > 0


def test_failing_task_is_reported_and_the_others_finish(cluster, tmp_path):
    plan = plan_sweep(MODEL, seeds=2, sets=['train.rules=["bp"]', "train.eta.bp=0.01,1000"],
                      out_dir=str(tmp_path), quick=True)
    (outcome,) = run_sweeps([plan], client_info=cluster, show_progress=False, echo=False)
    index = load_index(os.path.join(tmp_path, "sweep.json"))
    assert index["counts"]["finished"] == 2 and index["counts"]["failed"] == 2
    for task in index["tasks"]:
        if task["settings"]["train.eta.bp"] == "1000":
            assert task["status"] == "failed" and "diverged" in task["error"]
            assert "diverged" in (tmp_path / task["log"]).read_text()
        else:
            assert task["status"] == "finished" and task["error"] == ""
    assert "2 finished, 2 failed of 4 tasks" in outcome.summary_text


def test_killed_worker_has_its_task_rerun_elsewhere(cluster, tmp_path):
    pids = cluster.client.run(os.getpid)
    killed = []

    def kill_first_worker(plan, task, event):
        if event == "running" and not killed:
            killed.append(task.id)
            os.kill(pids[task.worker], signal.SIGKILL)

    # 4000 examples (twice the full size): long enough to be killed mid-run
    plan = plan_sweep(MODEL, seeds=1, sets=[TWO_RULES, "train.examples=4000"], out_dir=str(tmp_path))
    (outcome,) = run_sweeps([plan], client_info=cluster, show_progress=False, echo=False,
                            on_event=kill_first_worker)
    assert plan.counts()["finished"] == 1
    victim = next(t for t in plan.tasks if t.id == killed[0])
    assert victim.attempts == 2
    params, status = _params(os.path.join(tmp_path, victim.out))
    assert status == "finished" and params["seed"] == victim.seed
    cluster.client.wait_for_workers(2, timeout=30)     # the nanny restarted the killed worker


def test_cli_on_an_existing_scheduler_exits_1_when_a_task_fails(cluster, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", MODEL, "--quick", "--seeds", "1", "--set", 'train.rules=["bp"]',
            "--set", "train.eta.bp=0.01,1000", "--out", str(out), "--no-progress",
            "--scheduler", cluster.client.scheduler.address]
    assert cli_main(argv) == 1
    text = capsys.readouterr()
    assert "1 finished, 1 failed of 2 tasks" in text.out and "failed train.eta.bp=1000,seed=0" in text.err
    assert sorted(os.listdir(out)) == ["runs", "summary.json", "summary.txt", "sweep.json"]


def test_interrupted_run_resumes_from_its_checkpoint_into_a_new_file(cluster, tmp_path):
    from spikefa.runner import DEFAULT_MODEL     # the spiking demo: synthetic digits, checkpoints at evaluations

    sets = ["train.images=200", "train.eval_every=100", "data.synthetic_train=200", "data.synthetic_test=50",
            "train.checkpoint_min_s=0"]
    plan = plan_sweep(DEFAULT_MODEL, seeds=1, sets=sets, out_dir=str(tmp_path))
    run_sweeps([plan], client_info=cluster, show_progress=False, echo=False)
    first = tmp_path / plan.tasks[0].out
    assert os.path.isfile(str(first)[:-3] + ".ckpt.h5")
    with h5py.File(first, "a") as h5:          # as if stopped after its last checkpoint
        h5.attrs["status"] = "interrupted"
        curve = h5["metrics/fa/test_error"][()]

    plan = plan_sweep(DEFAULT_MODEL, seeds=1, sets=sets, out_dir=str(tmp_path))
    (outcome,) = run_sweeps([plan], client_info=cluster, show_progress=False, echo=False)
    task = plan.tasks[0]
    assert outcome.skipped == 0 and task.status == "finished" and task.out.endswith(".r1.h5")
    assert "resuming from" in (tmp_path / task.log).read_text()
    params, status = _params(tmp_path / task.out)
    assert status == "finished"
    with h5py.File(tmp_path / task.out, "r") as h5:
        assert list(h5["metrics/fa/test_error"][: len(curve)]) == list(curve)
    assert load_index(os.path.join(tmp_path, "sweep.json"))["tasks"][0]["out"] == task.out

    plan = plan_sweep(DEFAULT_MODEL, seeds=1, sets=sets, out_dir=str(tmp_path))
    (outcome,) = run_sweeps([plan], client_info=cluster, show_progress=False, echo=False)
    assert outcome.skipped == 1 and plan.tasks[0].out == task.out


def test_a_key_added_to_the_schema_later_keeps_finished_runs_finished():
    """A run file written before a key existed counts as having run with the key's default: adding
    a key (at a default that keeps the old behaviour) does not rerun a study's finished tasks."""
    from spikefa import experiments
    from spikefa.sweep.index import same_params

    schema = experiments.schema("spiking")
    now = {"seed": 0, "network": {"eta": 0.001, "feedback_dtype": "float32"}, "train": {"images": 10}}
    before = {"seed": 0, "network": {"eta": 0.001}, "train": {"images": 10}}
    assert same_params(before, now, schema)
    assert not same_params(before, {**now, "network": {"eta": 0.001, "feedback_dtype": "bfloat16"}}, schema)
    assert not same_params({**before, "train": {"images": 20}}, now, schema)
    assert not same_params({**before, "unknown": 1}, now, schema)
    assert not same_params(before, now, None)          # no schema: only an exact match counts
    assert not same_params(None, now, schema)
