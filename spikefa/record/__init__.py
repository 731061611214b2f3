"""Recorders: stream spike rasters, PSPs and modulatory traces of a running network to HDF5.

Declare what to record (model file ``[[record.recorders]]`` tables, schema :data:`RECORD_SCHEMA`,
or :class:`Recorder` objects), attach with :func:`build_recorders`, read back with
:func:`open_run`, export to NWB, SONATA or Neo with :func:`export_run` (:mod:`spikefa.record.export`;
the format libraries are optional extras, imported only when asked for). The file layout is
documented in docs/hdf5-layout.md.
"""

from .declare import RECORD_SCHEMA, RECORDER_SCHEMA, VARIABLES, Recorder, parse_record_params, resolve_recorders
from ..runfile import open_read, recover
from .reader import RunRecordings, open_run
from .recording import Recording, build_recorders
from .export import export_run

__all__ = ["RECORD_SCHEMA", "RECORDER_SCHEMA", "VARIABLES", "Recorder", "Recording", "RunRecordings",
           "build_recorders", "export_run", "open_read", "open_run", "parse_record_params", "recover",
           "resolve_recorders"]
