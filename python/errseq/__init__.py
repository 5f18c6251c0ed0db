"""errseq: Python binding of liberrseq-client, errseqd's client library.

Named errseq_t slots shared between processes: a producer records errors
with Slot.set(); each watcher's Cursor reports each new error once.  Pure
Python over ctypes; the shared library is found through $ERRSEQ_LIBRARY,
``Client(library=...)``, or the system's liberrseq-client.so.0::

    import errno, errseq
    with errseq.Client() as c:              # $ERRSEQD_SOCKET or the default
        slot = c.open("disk0", create=True)
        cur = slot.cursor()
        slot.set(errno.EIO)
        assert cur.check() == errno.EIO     # reported once
        assert cur.check() == 0

Recorded errors are values (positive errnos); failing calls raise:
StaleError, ForkedError, ProtocolError, UnsafeDaemonError (errseq's own
codes), NotConnectedError, and Python's OSError subclasses
(PermissionError, FileNotFoundError, FileExistsError...) for errnos.
"""
from __future__ import annotations

import errno as _errno
import pkgutil as _pkgutil

# A build tree keeps the generated _version.py apart from the sources.
__path__ = _pkgutil.extend_path(__path__, __name__)  # type: ignore[name-defined]

from ._lib import (ERRSEQ_EFORKED, ERRSEQ_EPROTO, ERRSEQ_ESTALE,  # noqa: E402
                   ERRSEQ_EUNSAFE, ERRSEQ_MAX_ERRNO, ERRSEQ_NAME_MAX,
                   LibraryNotFoundError, load_library)
from ._errors import (Error, ForkedError, NotConnectedError,  # noqa: E402
                      ProtocolError, StaleError, UnsafeDaemonError)
from ._client import (Client, Cursor, DaemonStatus, Report,  # noqa: E402
                      Slot, SlotInfo, Watch, default_socket, strerror)

try:
    from ._version import __version__
except ImportError:  # sources not configured
    __version__ = "0+unknown"

# errno values, so that errseq.EIO works like errno.EIO.
EIO: int = _errno.EIO
ENOSPC: int = _errno.ENOSPC
EDQUOT: int = _errno.EDQUOT
EROFS: int = _errno.EROFS
ENOMEM: int = _errno.ENOMEM
EPIPE: int = _errno.EPIPE
ETIMEDOUT: int = _errno.ETIMEDOUT
for _name in _errno.errorcode.values():
    globals().setdefault(_name, getattr(_errno, _name))
del _name

__all__ = [
    "Client", "Slot", "Cursor", "Watch", "Report", "SlotInfo",
    "DaemonStatus", "Error", "StaleError", "ForkedError", "ProtocolError",
    "UnsafeDaemonError", "NotConnectedError", "LibraryNotFoundError",
    "strerror", "default_socket", "load_library", "ERRSEQ_ESTALE",
    "ERRSEQ_EFORKED", "ERRSEQ_EPROTO", "ERRSEQ_EUNSAFE",
    "ERRSEQ_MAX_ERRNO", "ERRSEQ_NAME_MAX", "__version__",
]
