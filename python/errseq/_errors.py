"""Exceptions: how the library's negative return codes become Python errors.

Recorded errors (what a slot holds) are values, never exceptions.  Only a
failing call raises: errseq's own codes get their own classes, ENOTCONN a
ConnectionError subclass, and every other errno the OSError subclass Python
itself picks for it (PermissionError, FileNotFoundError, FileExistsError,
ConnectionRefusedError, TimeoutError...), with errseq_strerror's message.
"""
from __future__ import annotations

import ctypes
from typing import Optional

from . import _lib

__all__ = ["Error", "StaleError", "ForkedError", "ProtocolError",
           "UnsafeDaemonError", "NotConnectedError", "error_for"]


class Error(OSError):
    """Base of errseq's own error codes (ERRSEQ_E*).

    ``errno`` holds the code's absolute value (e.g. 4097), ``code`` the
    library's negative code.
    """

    code: int = 0


class StaleError(Error):
    """ERRSEQ_ESTALE: the slot was deleted or its segment replaced: reopen."""


class ForkedError(Error):
    """ERRSEQ_EFORKED: a client inherited across fork() cannot talk to the
    daemon; open a new Client in the child."""


class ProtocolError(Error):
    """ERRSEQ_EPROTO: the daemon broke the protocol."""


class UnsafeDaemonError(Error):
    """ERRSEQ_EUNSAFE: the socket's directory or the daemon's user is not
    trusted; nothing was sent."""


class NotConnectedError(ConnectionError):
    """-ENOTCONN: the daemon is away (the client reconnects by itself)."""


_OWN = {
    _lib.ERRSEQ_ESTALE: StaleError,
    _lib.ERRSEQ_EFORKED: ForkedError,
    _lib.ERRSEQ_EPROTO: ProtocolError,
    _lib.ERRSEQ_EUNSAFE: UnsafeDaemonError,
}


def error_for(lib: ctypes.CDLL, rc: int, what: Optional[str] = None) -> OSError:
    """The exception for the library's negative code *rc*.

    The message is errseq_strerror's, prefixed by *what* if given.
    """
    raw = lib.errseq_strerror(rc)
    msg = raw.decode("utf-8", "replace") if raw else f"error {rc}"
    if what:
        msg = f"{what}: {msg}"
    cls = _OWN.get(rc)
    if cls is not None:
        e: OSError = cls(-rc, msg)
        e.code = rc  # type: ignore[attr-defined]
        return e
    import errno as _errno
    if rc == -_errno.ENOTCONN:
        e = NotConnectedError(-rc, msg)
    else:
        e = OSError(-rc, msg)  # Python picks the subclass for the errno
    e.code = rc  # type: ignore[attr-defined]
    return e
