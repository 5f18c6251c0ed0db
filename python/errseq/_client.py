"""Client, Slot, Cursor and Watch: the Pythonic face of liberrseq-client.

Lifetimes follow the C library's: a Client owns its slots, a Slot its
cursors, and a Watch refers to cursors it does not own.  Closing an object
closes what it owns (a cursor is taken out of every watch before it is
freed, as the C contract requires), and any later use raises ValueError
instead of touching freed memory.  Calls that wait do so in slices, so that
closing from another thread, or Ctrl-C, takes effect within a fraction of a
second.
"""
from __future__ import annotations

import ctypes
import dataclasses
import grp
import os
import re
import threading
import time
import weakref
from typing import (TYPE_CHECKING, AsyncIterator, Dict, Iterator, List, Optional, Set,
                    Union)

from . import _lib
from ._errors import error_for

if TYPE_CHECKING:  # asyncio is imported only when an async for runs
    import asyncio

__all__ = ["Client", "Slot", "Cursor", "Watch", "Report", "SlotInfo",
           "DaemonStatus", "strerror", "default_socket"]

_NAME_RE = re.compile(rb"[A-Za-z0-9._:/@-]{1,128}\Z")
_WAIT_SLICE = 0.25          # seconds: how long one blocking C call may last
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def strerror(code: int, *, library: Optional[str] = None) -> str:
    """errseq_strerror: the message for an errno (either sign) or one of
    errseq's codes (ERRSEQ_ESTALE...)."""
    lib = _lib.load_library(library)
    return lib.errseq_strerror(int(code)).decode("utf-8", "replace")


def default_socket(*, library: Optional[str] = None) -> str:
    """The socket a Client without *socket* connects to: $ERRSEQD_SOCKET if
    set, else the per-user or system default (see errseqd(8))."""
    lib = _lib.load_library(library)
    buf = ctypes.create_string_buffer(4096)
    rc = lib.errseq_default_socket(buf, len(buf))
    if rc < 0:
        raise error_for(lib, rc, "default socket")
    return os.fsdecode(buf.value)


def _check_name(name: Union[str, bytes]) -> bytes:
    if isinstance(name, str):
        raw = name.encode("utf-8", "surrogateescape")
    elif isinstance(name, bytes):
        raw = name
    else:
        raise TypeError(f"a slot name is a str, not {type(name).__name__}")
    if not _NAME_RE.match(raw):
        raise ValueError(f"bad slot name {name!r}: 1 to 128 bytes of "
                         "[A-Za-z0-9._:/@-]")
    return raw


def _check_errno(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an errno is an int, not {type(value).__name__}")
    if not 1 <= value <= _lib.ERRSEQ_MAX_ERRNO:
        raise ValueError(f"errno {value} out of range: a positive errno in "
                         f"[1, {_lib.ERRSEQ_MAX_ERRNO}] (e.g. errno.EIO)")
    return value


def _deadline(timeout: Optional[float]) -> Optional[float]:
    """A deadline (time.monotonic) for *timeout* seconds; None: forever."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout is a number of seconds or None")
    if timeout != timeout or timeout < 0:
        raise ValueError(f"bad timeout {timeout!r}: seconds >= 0, or None")
    return time.monotonic() + timeout


@dataclasses.dataclass(frozen=True)
class SlotInfo:
    """One slot as errseq_stat / errseq_list report it (never consumes)."""

    name: str
    index: int
    generation: int
    value: int              #: the raw errseq_t word
    sets_total: int
    last_set_ns: int        #: CLOCK_REALTIME; 0 if never set
    last_pid: int           #: 0 if never set
    creator_uid: int
    holders: int
    created_ns: int
    writers_gid: Optional[int]  #: None: no writer group
    writable: bool          #: may the asking user write it

    @property
    def error(self) -> int:
        """The latest recorded errno (positive), 0 if none ever was."""
        return self.value & _lib.ERRSEQ_MAX_ERRNO

    @property
    def seen(self) -> bool:
        """Whether someone consumed the latest value."""
        return bool(self.value & 0x1000)

    @classmethod
    def _from(cls, s: _lib.SlotInfoStruct) -> "SlotInfo":
        return cls(
            name=s.name.decode("utf-8", "surrogateescape"), index=s.index,
            generation=s.generation, value=s.value,
            sets_total=s.sets_total, last_set_ns=s.last_set_ns,
            last_pid=s.last_pid, creator_uid=s.creator_uid,
            holders=s.holders, created_ns=s.created_ns,
            writers_gid=None if s.writers_gid == _lib.ERRSEQ_NO_GROUP
            else s.writers_gid,
            writable=bool(s.writable))


@dataclasses.dataclass(frozen=True)
class DaemonStatus:
    """errseqd's status (errseq_status)."""

    pid: int
    version: str
    start_ns: int
    uptime_ns: int
    capacity: int
    slots_used: int
    slots_held: int
    clients: int
    max_clients: int
    incarnation: int
    segment_bytes: int
    chunks: int
    chunk_slots: int
    uid_slots: int
    max_uid_slots: int
    uid_clients: int
    max_uid_clients: int
    uid_holds: int
    max_uid_holds: int

    @classmethod
    def _from(cls, s: _lib.DaemonStatusStruct) -> "DaemonStatus":
        kw = {f.name: getattr(s, f.name) for f in dataclasses.fields(cls)}
        kw["version"] = s.version.decode("utf-8", "replace")
        return cls(**kw)


@dataclasses.dataclass(frozen=True)
class Report:
    """What Watch.next() reports for one cursor.

    *error* is the new error (a positive errno) reported once to *cursor*,
    as Cursor.check() would; *stale* is True (and *error* 0) when the
    cursor's slot went stale: remove that cursor and reopen by name.
    """

    cursor: "Cursor"
    error: int
    stale: bool = False

    @property
    def name(self) -> str:
        """The slot's name."""
        return self.cursor.slot.name


class _State:
    """The C client pointer and the lock that keeps frees away from calls.

    Every C call runs between enter() and leave(); close paths set
    ``closing`` (new calls wait) and wait until no call is in flight.
    """

    def __init__(self, lib: ctypes.CDLL, ptr: int) -> None:
        self.lib = lib
        self.ptr: Optional[int] = ptr
        self.cond = threading.Condition(threading.Lock())
        self.busy = 0
        self.closing = 0
        self.watches: List[int] = []   # live C watch pointers
        self.pid = os.getpid()

    def enter(self, obj: "_Handle") -> None:
        with self.cond:
            while self.closing:
                self.cond.wait()
            obj._assert_open()
            self.busy += 1

    def leave(self) -> None:
        with self.cond:
            self.busy -= 1
            if self.busy == 0:
                self.cond.notify_all()

    def begin_close(self) -> None:
        with self.cond:
            self.closing += 1
            while self.busy:
                self.cond.wait()

    def end_close(self) -> None:
        with self.cond:
            self.closing -= 1
            self.cond.notify_all()

    def after_fork(self) -> None:
        # Threads of the parent do not exist in the child.
        self.cond = threading.Condition(threading.Lock())
        self.busy = 0
        self.closing = 0

    def finalize(self) -> None:
        """Free everything (the Client's finalizer and close())."""
        if self.ptr is None:
            return
        for w in self.watches:
            self.lib.errseq_watch_free(w)
        self.watches.clear()
        self.lib.errseq_client_close(self.ptr)
        self.ptr = None


_states: "weakref.WeakSet[_State]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for st in list(_states):
        st.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Handle:
    """What Slot, Cursor and Watch share: a pointer, a client, a closed flag."""

    _kind = "object"

    def __init__(self, client: "Client", ptr: int) -> None:
        self._client = client
        self._st = client._st
        self._ptr: Optional[int] = ptr

    def _assert_open(self) -> None:
        if self._ptr is None or self._st.ptr is None:
            raise ValueError(f"I/O operation on a closed errseq {self._kind}")

    @property
    def closed(self) -> bool:
        """True once this object (or its owner) was closed."""
        return self._ptr is None or self._st.ptr is None

    def _call(self, fn: str, *args: object) -> int:
        st = self._st
        st.enter(self)
        try:
            return getattr(st.lib, fn)(self._ptr, *args)
        finally:
            st.leave()

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]


class Client:
    """A connection to errseqd and its mapped slots.

    ``Client(socket=None)`` connects to *socket*, or to $ERRSEQD_SOCKET /
    the default (see :func:`default_socket`).  *library* names the
    liberrseq-client shared object to use (default: $ERRSEQ_LIBRARY, then
    the system's).  Use it as a context manager, or call close(): that
    closes every slot, cursor and watch of the client.

    Raises :class:`LibraryNotFoundError` if the library cannot be loaded,
    FileNotFoundError (no socket), ConnectionRefusedError (no daemon),
    PermissionError, UnsafeDaemonError, ProtocolError, or another OSError.
    """

    def __init__(self, socket: Optional[PathLike] = None, *,
                 library: Optional[str] = None) -> None:
        lib = _lib.load_library(library)
        path = None if socket is None else os.fsencode(socket)
        out = ctypes.c_void_p()
        rc = lib.errseq_client_open(path, ctypes.byref(out))
        if rc < 0:
            where = "errseqd" if socket is None else os.fsdecode(path or b"")
            raise error_for(lib, rc, f"connecting to {where}")
        self._st = _State(lib, out.value)  # type: ignore[arg-type]
        _states.add(self._st)
        self._slots: List[Slot] = []
        self._watches: List[Watch] = []
        self._finalizer = weakref.finalize(self, _State.finalize, self._st)

    # -- lifetime --
    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._st.ptr is None

    def close(self) -> None:
        """Close every watch, slot and cursor of the client, then the
        connection.  Idempotent.  In a fork() child it frees the child's
        copies only."""
        st = self._st
        if st.ptr is None:
            return
        st.begin_close()
        try:
            for w in self._watches:
                w._ptr = None
            for s in self._slots:
                for c in s._cursors:
                    c._ptr = None
                    c._watches.clear()
                s._cursors.clear()
                s._ptr = None
            self._slots.clear()
            self._watches.clear()
            self._finalizer()
        finally:
            st.end_close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _control(self, fn: str, *args: object) -> int:
        st = self._st
        st.enter(self)  # type: ignore[arg-type]
        try:
            return getattr(st.lib, fn)(st.ptr, *args)
        finally:
            st.leave()

    def _assert_open(self) -> None:
        if self._st.ptr is None:
            raise ValueError("I/O operation on a closed errseq client")

    # -- naming --
    def open(self, name: Union[str, bytes], create: bool = False,
             exclusive: bool = False,
             writers_group: Union[int, str, None] = None) -> "Slot":
        """Open the slot called *name* (1 to 128 bytes of [A-Za-z0-9._:/@-]).

        *create*: create it if missing; with *exclusive*, FileExistsError if
        it exists.  *writers_group* (a gid or group name; needs *create*):
        members of that group may write the slot this call creates.  A
        handle is read-only for users not among the writers
        (:attr:`Slot.writable`).  Raises FileNotFoundError, FileExistsError,
        PermissionError, NotConnectedError, ForkedError, OSError
        (ENOSPC, EDQUOT, EMFILE...), ValueError on bad arguments.
        """
        raw = _check_name(name)
        if exclusive and not create:
            raise ValueError("exclusive=True needs create=True")
        flags = (_lib.ERRSEQ_CREATE if create else 0) | \
                (_lib.ERRSEQ_EXCL if exclusive else 0)
        attr = None
        if writers_group is not None:
            if not create:
                raise ValueError("writers_group needs create=True")
            if isinstance(writers_group, bool):
                raise TypeError("writers_group is a gid or a group name")
            if isinstance(writers_group, str):
                try:
                    gid = grp.getgrnam(writers_group).gr_gid
                except KeyError:
                    raise ValueError(
                        f"no such group {writers_group!r}") from None
            elif isinstance(writers_group, int):
                gid = writers_group
            else:
                raise TypeError("writers_group is a gid or a group name")
            if not 0 <= gid < _lib.ERRSEQ_NO_GROUP:
                raise ValueError(f"bad gid {gid}")
            attr = _lib.SlotAttrStruct(_lib.ERRSEQ_ATTR_WRITERS_GROUP, gid)
        out = ctypes.c_void_p()
        if attr is None:
            rc = self._control("errseq_slot_open", raw, flags,
                               ctypes.byref(out))
        else:
            rc = self._control("errseq_slot_open_attr", raw, flags,
                               ctypes.byref(attr), ctypes.byref(out))
        if rc < 0:
            raise error_for(self._st.lib, rc, f"open {name!r}")
        slot = Slot(self, out.value)  # type: ignore[arg-type]
        self._slots.append(slot)
        return slot

    def unlink(self, name: Union[str, bytes]) -> None:
        """Delete the slot called *name*; handles on it turn stale.
        Raises FileNotFoundError, PermissionError, NotConnectedError,
        ForkedError."""
        raw = _check_name(name)
        rc = self._control("errseq_slot_unlink", raw)
        if rc < 0:
            raise error_for(self._st.lib, rc, f"unlink {name!r}")

    def stat(self, name: Union[str, bytes]) -> SlotInfo:
        """One slot by name (never consumes).  FileNotFoundError if none."""
        raw = _check_name(name)
        out = _lib.SlotInfoStruct()
        rc = self._control("errseq_stat", raw, ctypes.byref(out))
        if rc < 0:
            raise error_for(self._st.lib, rc, f"stat {name!r}")
        return SlotInfo._from(out)

    def list(self) -> List[SlotInfo]:
        """Every live slot, in index order, over all pages (never consumes).
        Slots created or deleted meanwhile may or may not appear."""
        page = (_lib.SlotInfoStruct * 64)()
        pos = ctypes.c_uint32(0)
        result: List[SlotInfo] = []
        while True:
            before = pos.value
            n = self._control("errseq_list", ctypes.byref(pos), page,
                              len(page))
            if n < 0:
                raise error_for(self._st.lib, n, "list")
            result.extend(SlotInfo._from(page[i]) for i in range(n))
            if pos.value == _lib.ERRSEQ_LIST_END or (n == 0 and
                                                     pos.value == before):
                return result

    def status(self) -> DaemonStatus:
        """The daemon's status."""
        out = _lib.DaemonStatusStruct()
        rc = self._control("errseq_status", ctypes.byref(out))
        if rc < 0:
            raise error_for(self._st.lib, rc, "status")
        return DaemonStatus._from(out)

    def watch(self) -> "Watch":
        """A new, empty Watch: one pollable fd for many of this client's
        cursors (starts a helper thread in the library)."""
        out = ctypes.c_void_p()
        rc = self._control("errseq_watch_new", ctypes.byref(out))
        if rc < 0:
            raise error_for(self._st.lib, rc, "watch")
        w = Watch(self, out.value)  # type: ignore[arg-type]
        self._watches.append(w)
        self._st.watches.append(out.value)  # type: ignore[arg-type]
        return w

    def __repr__(self) -> str:
        return f"<errseq.Client{' closed' if self.closed else ''}>"


class Slot(_Handle):
    """An open handle on one named slot (from Client.open)."""

    _kind = "slot"

    def __init__(self, client: Client, ptr: int) -> None:
        super().__init__(client, ptr)
        self._cursors: List[Cursor] = []
        self._name = client._st.lib.errseq_slot_name(ptr).decode(
            "utf-8", "surrogateescape")

    @property
    def name(self) -> str:
        """The slot's name."""
        return self._name

    @property
    def writable(self) -> bool:
        """True if this handle may set(); False if it only watches."""
        return bool(self._call("errseq_slot_writable"))

    def set(self, error: int) -> None:
        """Record *error*, a positive errno (errno.EIO or errseq.EIO).

        Raises ValueError (out of [1, 4095]) or TypeError (not an int)
        without storing anything, StaleError, PermissionError (a read-only
        handle).
        """
        err = _check_errno(error)
        rc = self._call("errseq_slot_set", -err)
        if rc < 0:
            raise error_for(self._st.lib, rc, f"set {self._name!r}")

    def cursor(self) -> "Cursor":
        """A new cursor: an error nobody has consumed yet is reported to it.
        Raises StaleError."""
        out = ctypes.c_void_p()
        rc = self._call("errseq_cursor_new", ctypes.byref(out))
        if rc < 0:
            raise error_for(self._st.lib, rc, f"cursor on {self._name!r}")
        cur = Cursor(self, out.value)  # type: ignore[arg-type]
        self._cursors.append(cur)
        return cur

    def sample(self) -> int:
        """errseq_sample: a starting point for check() (0 if stale)."""
        return self._call("errseq_slot_sample")

    def check(self, since: int) -> int:
        """Has an error been recorded since *since* (from sample())?  0 or
        the latest errno (positive).  Never consumes: the kernel
        documentation's "big boss".  Raises StaleError."""
        if isinstance(since, bool) or not isinstance(since, int) or \
                not 0 <= since <= 0xFFFFFFFF:
            raise ValueError(f"bad errseq_t value {since!r}")
        rc = self._call("errseq_slot_check", since)
        if rc < -_lib.ERRSEQ_MAX_ERRNO:
            raise error_for(self._st.lib, rc, f"check {self._name!r}")
        return -rc

    def peek(self) -> int:
        """The raw errseq_t word, no side effect (0 on a stale handle)."""
        return self._call("errseq_slot_peek")

    def close(self) -> None:
        """Release the handle and every cursor on it (taking them out of
        their watches first).  Idempotent."""
        st = self._st
        if self._ptr is None or st.ptr is None:
            self._ptr = None
            return
        st.begin_close()
        try:
            if self._ptr is None or st.ptr is None:
                return
            for c in list(self._cursors):
                c._free_locked()
            st.lib.errseq_slot_close(self._ptr)
            self._ptr = None
            try:
                self._client._slots.remove(self)
            except ValueError:
                pass
        finally:
            st.end_close()

    def __repr__(self) -> str:
        return f"<errseq.Slot {self._name!r}{' closed' if self.closed else ''}>"


class Cursor(_Handle):
    """A watcher's position on one slot: each new error is reported to it
    once, whichever thread asks (from Slot.cursor)."""

    _kind = "cursor"

    def __init__(self, slot: Slot, ptr: int) -> None:
        super().__init__(slot._client, ptr)
        self._slot = slot
        self._watches: Set[Watch] = set()

    def _assert_open(self) -> None:
        if self._slot._ptr is None:
            self._ptr = None
        super()._assert_open()

    @property
    def slot(self) -> Slot:
        """The slot this cursor watches."""
        return self._slot

    def check(self) -> int:
        """0 if nothing new, else the latest error (a positive errno),
        reported once to this cursor.  Raises StaleError."""
        rc = self._call("errseq_cursor_check")
        if rc < -_lib.ERRSEQ_MAX_ERRNO:
            raise error_for(self._st.lib, rc, f"check {self._slot.name!r}")
        return -rc

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait up to *timeout* seconds (None: forever) for a new error and
        report it as check() does: a positive errno, or 0 if nothing came.
        Releases the GIL while it sleeps.  Raises StaleError, and ValueError
        if the cursor is closed meanwhile."""
        deadline = _deadline(timeout)
        while True:
            if deadline is None:
                ms = int(_WAIT_SLICE * 1000)
            else:
                left = deadline - time.monotonic()
                ms = max(0, min(int(_WAIT_SLICE * 1000),
                                int(left * 1000 + 0.999)))
            rc = self._call("errseq_cursor_wait", ms)
            if rc < -_lib.ERRSEQ_MAX_ERRNO:
                raise error_for(self._st.lib, rc,
                                f"wait {self._slot.name!r}")
            if rc < 0:
                return -rc
            if deadline is not None and time.monotonic() >= deadline:
                return 0

    def _free_locked(self) -> None:
        """Free with the client's close lock held: out of watches first."""
        if self._ptr is None:
            return
        lib = self._st.lib
        for w in list(self._watches):
            if w._ptr is not None:
                lib.errseq_watch_remove(w._ptr, self._ptr)
                w._cursors.pop(self._ptr, None)
        self._watches.clear()
        lib.errseq_cursor_free(self._ptr)
        try:
            self._slot._cursors.remove(self)
        except ValueError:
            pass
        self._ptr = None

    def close(self) -> None:
        """Take the cursor out of every watch and free it.  Idempotent."""
        st = self._st
        if self._ptr is None or st.ptr is None:
            self._ptr = None
            return
        st.begin_close()
        try:
            if st.ptr is not None and self._slot._ptr is not None:
                self._free_locked()
            self._ptr = None
        finally:
            st.end_close()

    def __repr__(self) -> str:
        return (f"<errseq.Cursor on {self._slot.name!r}"
                f"{' closed' if self.closed else ''}>")


class Watch(_Handle):
    """One pollable fd for many cursors of one client (Client.watch).

    Poll fileno() for reading (selectors, select, asyncio's add_reader),
    then call next() until it returns None; iterating drains the pending
    reports the same way.  ``async for report in watch`` waits on the fd
    with the running asyncio loop and yields reports forever (until the
    watch is closed).
    """

    _kind = "watch"

    def __init__(self, client: Client, ptr: int) -> None:
        super().__init__(client, ptr)
        self._cursors: Dict[int, Cursor] = {}
        self._fd = client._st.lib.errseq_watch_fd(ptr)
        self._waiter: Optional["asyncio.Future[None]"] = None

    def add(self, cursor: Cursor) -> None:
        """Watch *cursor* (one of this client's).  FileExistsError if it is
        already in; ValueError if it is closed or another client's."""
        if not isinstance(cursor, Cursor):
            raise TypeError("Watch.add takes a Cursor")
        if cursor._client is not self._client:
            raise ValueError("the cursor belongs to another Client")
        st = self._st
        st.enter(self)
        try:
            cursor._assert_open()
            rc = st.lib.errseq_watch_add(self._ptr, cursor._ptr)
            if rc < 0:
                raise error_for(st.lib, rc, "watch add")
            self._cursors[cursor._ptr] = cursor  # type: ignore[index]
            cursor._watches.add(self)
        finally:
            st.leave()

    def remove(self, cursor: Cursor) -> None:
        """Stop watching *cursor*.  FileNotFoundError if it is not in;
        ValueError if it is closed."""
        if not isinstance(cursor, Cursor):
            raise TypeError("Watch.remove takes a Cursor")
        st = self._st
        st.enter(self)
        try:
            cursor._assert_open()
            rc = st.lib.errseq_watch_remove(self._ptr, cursor._ptr)
            if rc < 0:
                raise error_for(st.lib, rc, "watch remove")
            self._cursors.pop(cursor._ptr, None)  # type: ignore[arg-type]
            cursor._watches.discard(self)
        finally:
            st.leave()

    def fileno(self) -> int:
        """The fd to poll for reading; read it only through next()."""
        self._assert_open()
        return self._fd

    @property
    def cursors(self) -> List[Cursor]:
        """The cursors in the watch."""
        return list(self._cursors.values())

    def next(self) -> Optional[Report]:
        """The next pending report, or None when none is left (which also
        re-arms the fd).  Nothing that changed before that None is lost."""
        while True:
            out = ctypes.c_void_p()
            rc = self._call("errseq_watch_next", ctypes.byref(out))
            if out.value is None:
                if rc < 0:
                    raise error_for(self._st.lib, rc, "watch next")
                return None
            if rc != 0:     # 0: nothing left for it (consumed elsewhere)
                break
        cur = self._cursors.get(out.value)
        if cur is None:  # cannot happen: every cursor in it came via add()
            raise RuntimeError("the watch reported an unknown cursor")
        if rc == _lib.ERRSEQ_ESTALE:
            return Report(cur, 0, True)
        if rc < -_lib.ERRSEQ_MAX_ERRNO:
            raise error_for(self._st.lib, rc, "watch next")
        return Report(cur, -rc, False)

    def __iter__(self) -> Iterator[Report]:
        """The reports pending now (next() until None); does not block."""
        while True:
            r = self.next()
            if r is None:
                return
            yield r

    def __aiter__(self) -> AsyncIterator[Report]:
        return self._areports()

    async def _areports(self) -> AsyncIterator[Report]:
        import asyncio
        loop = asyncio.get_running_loop()
        while True:
            for r in self:
                yield r
            if self.closed:
                return
            fut: "asyncio.Future[None]" = loop.create_future()
            fd = self.fileno()

            def ready(f: "asyncio.Future[None]" = fut) -> None:
                if not f.done():
                    f.set_result(None)
            loop.add_reader(fd, ready)
            self._waiter = fut
            try:
                await fut
            finally:
                self._waiter = None
                if self._ptr is not None:
                    loop.remove_reader(fd)
            if self.closed:
                return

    def close(self) -> None:
        """Free the watch (its cursors stay open).  Idempotent.  An
        ``async for`` waiting on it ends."""
        st = self._st
        if self._ptr is None or st.ptr is None:
            self._ptr = None
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            try:
                waiter.get_loop().remove_reader(self._fd)
            except Exception:
                pass
            waiter.set_result(None)
        st.begin_close()
        try:
            if self._ptr is not None and st.ptr is not None:
                st.lib.errseq_watch_free(self._ptr)
                st.watches.remove(self._ptr)
                for c in self._cursors.values():
                    c._watches.discard(self)
                self._cursors.clear()
                try:
                    self._client._watches.remove(self)
                except ValueError:
                    pass
            self._ptr = None
        finally:
            st.end_close()

    def __repr__(self) -> str:
        return (f"<errseq.Watch of {len(self._cursors)} cursors"
                f"{' closed' if self.closed else ''}>")
