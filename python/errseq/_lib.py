"""Loading liberrseq-client with ctypes, and the C API's types and prototypes.

The structures mirror include/errseq/client.h field for field; the test
suite compares their sizes and offsets with the C compiler's.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Dict, Optional

__all__ = [
    "ERRSEQ_ESTALE", "ERRSEQ_EFORKED", "ERRSEQ_EPROTO", "ERRSEQ_EUNSAFE",
    "ERRSEQ_CREATE", "ERRSEQ_EXCL", "ERRSEQ_NAME_MAX", "ERRSEQ_MAX_ERRNO",
    "ERRSEQ_ATTR_WRITERS_GROUP", "ERRSEQ_NO_GROUP", "ERRSEQ_LIST_END",
    "LibraryNotFoundError", "SlotInfoStruct", "DaemonStatusStruct",
    "SlotAttrStruct", "load_library", "SONAME",
]

SONAME = "liberrseq-client.so.0"

# The library's own codes (include/errseq/client.h).
ERRSEQ_ESTALE = -4097
ERRSEQ_EFORKED = -4098
ERRSEQ_EPROTO = -4099
ERRSEQ_EUNSAFE = -4100

ERRSEQ_CREATE = 0x1
ERRSEQ_EXCL = 0x2
ERRSEQ_NAME_MAX = 128
ERRSEQ_MAX_ERRNO = 4095
ERRSEQ_ATTR_WRITERS_GROUP = 0x1
ERRSEQ_NO_GROUP = 0xFFFFFFFF
ERRSEQ_LIST_END = 0xFFFFFFFF

_pid_t = ctypes.c_int32
_uid_t = ctypes.c_uint32
_errseq_t = ctypes.c_uint32


class SlotInfoStruct(ctypes.Structure):
    """struct errseq_slot_info."""

    _fields_ = [
        ("name", ctypes.c_char * (ERRSEQ_NAME_MAX + 1)),
        ("index", ctypes.c_uint32),
        ("generation", ctypes.c_uint32),
        ("value", _errseq_t),
        ("sets_total", ctypes.c_uint64),
        ("last_set_ns", ctypes.c_uint64),
        ("last_pid", _pid_t),
        ("creator_uid", _uid_t),
        ("holders", ctypes.c_uint32),
        ("created_ns", ctypes.c_uint64),
        ("writers_gid", ctypes.c_uint32),
        ("writable", ctypes.c_int),
    ]


class DaemonStatusStruct(ctypes.Structure):
    """struct errseq_daemon_status."""

    _fields_ = [
        ("pid", _pid_t),
        ("version", ctypes.c_char * 32),
        ("start_ns", ctypes.c_uint64),
        ("uptime_ns", ctypes.c_uint64),
        ("capacity", ctypes.c_uint32),
        ("slots_used", ctypes.c_uint32),
        ("slots_held", ctypes.c_uint32),
        ("clients", ctypes.c_uint32),
        ("max_clients", ctypes.c_uint32),
        ("incarnation", ctypes.c_uint64),
        ("segment_bytes", ctypes.c_uint64),
        ("chunks", ctypes.c_uint32),
        ("chunk_slots", ctypes.c_uint32),
        ("uid_slots", ctypes.c_uint32),
        ("max_uid_slots", ctypes.c_uint32),
        ("uid_clients", ctypes.c_uint32),
        ("max_uid_clients", ctypes.c_uint32),
        ("uid_holds", ctypes.c_uint32),
        ("max_uid_holds", ctypes.c_uint32),
    ]


class SlotAttrStruct(ctypes.Structure):
    """struct errseq_slot_attr."""

    _fields_ = [
        ("flags", ctypes.c_uint),
        ("writers_gid", ctypes.c_uint32),
    ]


class LibraryNotFoundError(ImportError):
    """liberrseq-client could not be loaded.

    The message names the library tried and how to point at another one
    (``ERRSEQ_LIBRARY=/path/to/liberrseq-client.so.0`` or
    ``Client(library=...)``).
    """


_vp = ctypes.c_void_p
_vpp = ctypes.POINTER(ctypes.c_void_p)
_int = ctypes.c_int

# name: (restype, argtypes)
_PROTOTYPES = {
    "errseq_client_open": (_int, [ctypes.c_char_p, _vpp]),
    "errseq_client_close": (None, [_vp]),
    "errseq_slot_open": (_int, [_vp, ctypes.c_char_p, ctypes.c_uint, _vpp]),
    "errseq_slot_open_attr": (_int, [_vp, ctypes.c_char_p, ctypes.c_uint,
                                     ctypes.POINTER(SlotAttrStruct), _vpp]),
    "errseq_slot_writable": (_int, [_vp]),
    "errseq_slot_close": (None, [_vp]),
    "errseq_slot_unlink": (_int, [_vp, ctypes.c_char_p]),
    "errseq_slot_set": (_int, [_vp, _int]),
    "errseq_slot_sample": (_errseq_t, [_vp]),
    "errseq_slot_check": (_int, [_vp, _errseq_t]),
    "errseq_slot_peek": (_errseq_t, [_vp]),
    "errseq_slot_name": (ctypes.c_char_p, [_vp]),
    "errseq_cursor_new": (_int, [_vp, _vpp]),
    "errseq_cursor_check": (_int, [_vp]),
    "errseq_cursor_wait": (_int, [_vp, _int]),
    "errseq_cursor_free": (None, [_vp]),
    "errseq_watch_new": (_int, [_vp, _vpp]),
    "errseq_watch_add": (_int, [_vp, _vp]),
    "errseq_watch_remove": (_int, [_vp, _vp]),
    "errseq_watch_fd": (_int, [_vp]),
    "errseq_watch_next": (_int, [_vp, _vpp]),
    "errseq_watch_free": (None, [_vp]),
    "errseq_strerror": (ctypes.c_char_p, [_int]),
    "errseq_stat": (_int, [_vp, ctypes.c_char_p,
                           ctypes.POINTER(SlotInfoStruct)]),
    "errseq_list": (_int, [_vp, ctypes.POINTER(ctypes.c_uint32),
                           ctypes.POINTER(SlotInfoStruct), ctypes.c_size_t]),
    "errseq_status": (_int, [_vp, ctypes.POINTER(DaemonStatusStruct)]),
    "errseq_default_socket": (_int, [ctypes.c_char_p, ctypes.c_size_t]),
}

_cache: Dict[str, ctypes.CDLL] = {}
_cache_lock = threading.Lock()


def _candidates(path: Optional[str]) -> list:
    if path:
        return [path]
    env = os.environ.get("ERRSEQ_LIBRARY")
    if env:
        return [env]
    found = ctypes.util.find_library("errseq-client")
    names = [found] if found else []
    if SONAME not in names:
        names.append(SONAME)
    return names


def load_library(path: Optional[str] = None) -> ctypes.CDLL:
    """Load liberrseq-client and declare its functions.

    *path* (or else ``$ERRSEQ_LIBRARY``) names the shared object to load;
    without either, ``ctypes.util.find_library("errseq-client")`` and then
    the soname ``liberrseq-client.so.0`` are tried.  Loaded libraries are
    cached by name.  Raises :class:`LibraryNotFoundError` naming what was
    tried when none loads or a function is missing.
    """
    tried = []
    for name in _candidates(os.fspath(path) if path is not None else None):
        with _cache_lock:
            if name in _cache:
                return _cache[name]
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            tried.append(f"{name} ({e})")
            continue
        for fn, (restype, argtypes) in _PROTOTYPES.items():
            try:
                f = getattr(lib, fn)
            except AttributeError:
                raise LibraryNotFoundError(
                    f"{name} is not a usable liberrseq-client: it has no "
                    f"{fn}() (too old?); set ERRSEQ_LIBRARY to the path of "
                    f"a current {SONAME}", name=name) from None
            f.restype = restype
            f.argtypes = argtypes
        with _cache_lock:
            _cache.setdefault(name, lib)
            return _cache[name]
    raise LibraryNotFoundError(
        f"cannot load the errseqd client library {SONAME}: tried "
        + "; ".join(tried)
        + ". Install liberrseq-client, or point at it with "
        "ERRSEQ_LIBRARY=/path/to/liberrseq-client.so.0 or "
        "errseq.Client(library=...)", name=SONAME)
