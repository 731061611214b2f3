"""Run files: one HDF5 file per run, and the one place that writes and reads them.

Modules:
  write    RunFile (the writer: header, metrics, results, summary, live SWMR writing), abandon,
           check_writable, create_file (a recordings file of its own)
  hdf5     the superblock's open-for-writing marks, a view with them cleared, bounded SWMR reads
  read     open_read (finished, live, killed, truncated files; one-line errors), open_data,
           reading, recover, needs_recovery, open_for_resume
  state    what a file says about its run: run_state (status, params, summary rows; a killed
           writer's file is "killed"), read_params, read_summary, rows_from_summary_attrs
  series   /metrics as arms, seeds and series: what figures draw and claims count
  merge    several files as one: a run joined with its continuations (open_chain), seeds of
           several runs merged (add_seeds, merge_runs), compact_run
plot, sweep, reproduce and record read run files through these; checkpoints are not run files.
"""

from .merge import add_seeds, compact_run, join_metrics, merge_runs, open_chain
from .read import needs_recovery, open_data, open_for_resume, open_read, reading, recover
from .series import Series, arms, arms_with, run_params, seed_arrays, seed_series, series, test_set, x_axis
from .state import jsonable, read_params, read_summary, rows_from_summary_attrs, run_state
from .write import EXIT_AFTER_FAILED_WRITE, RunFile, abandon, check_writable, create_file

__all__ = ["add_seeds", "compact_run", "join_metrics", "merge_runs", "open_chain", "needs_recovery", "open_data",
           "open_for_resume", "open_read", "reading", "recover", "Series", "arms", "arms_with", "run_params",
           "seed_arrays", "seed_series", "series", "test_set", "x_axis", "jsonable", "read_params", "read_summary",
           "rows_from_summary_attrs", "run_state", "EXIT_AFTER_FAILED_WRITE", "RunFile", "abandon", "check_writable",
           "create_file"]
