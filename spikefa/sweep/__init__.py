"""Seed and parameter sweeps: every combination runs as an independent task on Dask.

A sweep expands ``seeds x (--set key=v1,v2 ...)`` into tasks. Each task runs one model file through
:func:`spikefa.runner.run_file` on a dask.distributed worker and writes its own run file in
``OUT/runs/`` (its messages go to ``OUT/runs/<task>.log``). The sweep keeps an index
(``OUT/sweep.json``) naming every task, its parameters, status, output and error, rewritten
atomically whenever a task changes state, and a summary of the metrics across tasks
(``OUT/summary.json`` and ``OUT/summary.txt``).

Resuming: a task is skipped when its run file exists, finished, and holds the parameters the task
would run with now; everything else (pending, running when the sweep was stopped, failed) runs
again. An interrupted run that left a checkpoint (``runs/<task>.ckpt.h5``, written by experiments
that checkpoint) goes on from it into ``runs/<task>.r1.h5`` (then ``.r2`` ...), keeping the
interrupted file it continues; the index's ``out`` names the latest. A worker that dies mid-task has its task rescheduled elsewhere by the scheduler (up to
``distributed.scheduler.allowed-failures`` times); an exception inside a task is caught on the
worker and reported as that task's error, so it never stops the others.

Threads: each task limits numba (and BLAS) to ``cores // workers`` threads, so tasks times threads
matches the machine.

Modules: ``plan`` (tasks from seeds x values), ``index`` (sweep.json, finished tasks; a run file's state is read by
:func:`spikefa.runfile.run_state`), ``summary``
(across seeds), ``worker`` (one task on a worker), ``cluster`` (the Dask client and the run loop).
"""

from .cluster import ClusterInfo, SweepOutcome, dask_client, run_sweeps, span_seconds
from .index import (_run_file_state, jsonable, load_index, mark_finished_tasks, rows_from_summary_attrs, run_state,
                    save_index, write_json_atomic)
from .plan import INDEX_NAME, STATUSES, SweepPlan, Task, default_out_dir, parse_grid, plan_sweep, split_values
from .summary import SUMMARY_JSON, SUMMARY_TEXT, summarize, summary_table, write_summary
from .worker import attempt_paths, limit_threads, next_attempt_path, run_task, wait_for_other_writer

# run_task: Dask pickles it by reference, and sweeps started before the split name it spikefa.sweep.run_task;
# _run_file_state: the old name of spikefa.runfile.run_state (the fault tests read it)
__all__ = ["ClusterInfo", "SweepOutcome", "dask_client", "run_sweeps", "span_seconds", "_run_file_state", "run_state",
           "jsonable", "load_index", "mark_finished_tasks", "rows_from_summary_attrs", "save_index", "write_json_atomic",
           "INDEX_NAME", "STATUSES", "SweepPlan", "Task", "default_out_dir", "parse_grid", "plan_sweep",
           "split_values", "SUMMARY_JSON", "SUMMARY_TEXT", "summarize", "summary_table", "write_summary",
           "attempt_paths", "limit_threads", "next_attempt_path", "run_task", "wait_for_other_writer"]
