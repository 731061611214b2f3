"""Opening run files for reading: moved to :mod:`spikefa.runfile.read` (and the byte-level HDF5 of
:mod:`spikefa.runfile.hdf5`); these names stay importable from here."""

from ..runfile.hdf5 import (SIGNATURE, SWMR_WRITE_ACCESS, WRITE_ACCESS, ClearedView, Superblock, lookup3,
                            read_superblock, swmr_read)
from ..runfile.read import (DEAD_READ_ATTEMPTS, LIVE_READ_ATTEMPTS, _open, needs_recovery, open_data, open_for_resume,
                            open_read, reading, recover)

_ClearedView, _swmr_read = ClearedView, swmr_read

__all__ = ["SIGNATURE", "SWMR_WRITE_ACCESS", "WRITE_ACCESS", "ClearedView", "Superblock", "lookup3", "read_superblock",
           "swmr_read", "DEAD_READ_ATTEMPTS", "LIVE_READ_ATTEMPTS", "needs_recovery", "open_data", "open_for_resume",
           "open_read", "reading", "recover"]
