"""The binding's API against a real errseqd: values, exceptions, stale
slots, bad input, lifetimes, and a library that cannot be found."""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import threading

import pytest

import errseq


def test_set_check_wait_values(client):
    slot = client.open("disk0", create=True)
    assert slot.name == "disk0"
    assert slot.writable is True
    cur = slot.cursor()
    assert cur.check() == 0
    slot.set(errno.EIO)
    assert cur.check() == errno.EIO           # once
    assert cur.check() == 0
    slot.set(errseq.ENOSPC)
    assert cur.wait(timeout=0) == errno.ENOSPC
    assert cur.wait(timeout=0.05) == 0        # nothing new: 0, no exception
    assert slot.peek() == 0x0000301C
    # a wait in another thread wakes on a set (the GIL is released)
    got = []
    t = threading.Thread(target=lambda: got.append(cur.wait(timeout=30)))
    t.start()
    slot.set(errno.EROFS)
    t.join(60)
    assert got == [errno.EROFS]
    # the big boss: sample, check, never consume
    since = slot.sample()
    assert since == 0x0000501E
    assert slot.check(since) == 0
    slot.set(errno.EDQUOT)
    assert slot.check(since) == errno.EDQUOT
    assert slot.check(since) == errno.EDQUOT
    assert cur.check() == errno.EDQUOT


def test_stat_list_status(client, daemon):
    a = client.open("a", create=True)
    client.open("b", create=True, exclusive=True)
    a.set(errno.EIO)
    a.set(errno.EIO)                          # unseen repeat: no change
    info = client.stat("a")
    assert isinstance(info, errseq.SlotInfo)
    assert (info.name, info.value, info.error, info.seen) == \
        ("a", 0x5, errno.EIO, False)
    assert info.sets_total == 2
    assert info.last_pid == os.getpid()
    assert info.creator_uid == os.getuid()
    assert info.holders == 1
    assert info.writers_gid is None
    assert info.writable is True
    assert info.last_set_ns > 0 and info.created_ns > 0
    names = [i.name for i in client.list()]
    assert names == ["a", "b"]
    for i in range(150):                      # more than one page of 64
        client.open(f"many.{i:03d}", create=True)
    listed = client.list()
    assert len(listed) == 152
    assert sorted(i.name for i in listed) == \
        sorted(["a", "b"] + [f"many.{i:03d}" for i in range(150)])
    st = client.status()
    assert isinstance(st, errseq.DaemonStatus)
    assert st.pid == daemon.proc.pid
    assert st.slots_used == 152
    assert st.clients == 1
    assert st.capacity == 65536


def test_writers_group(client):
    gid = os.getgid()
    s = client.open("grp", create=True, writers_group=gid)
    assert client.stat("grp").writers_gid == gid
    assert s.writable is True


def test_exceptions_for_library_errors(client, daemon):
    with pytest.raises(FileNotFoundError) as ei:
        client.open("missing")
    assert ei.value.errno == errno.ENOENT
    assert "No such file or directory" in str(ei.value)
    client.open("x", create=True)
    with pytest.raises(FileExistsError) as ei:
        client.open("x", create=True, exclusive=True)
    assert ei.value.errno == errno.EEXIST
    with pytest.raises(FileNotFoundError):
        client.unlink("missing")
    with pytest.raises(FileNotFoundError):
        client.stat("missing")
    with pytest.raises(FileNotFoundError) as ei:
        errseq.Client(os.path.join(daemon.dir, "nothere.sock"))
    assert ei.value.errno == errno.ENOENT
    # a socket file nobody listens on
    path = os.path.join(daemon.dir, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    s.close()
    with pytest.raises(ConnectionRefusedError) as ei:
        errseq.Client(path)
    assert ei.value.errno == errno.ECONNREFUSED
    # a server that answers HELLO with garbage
    bogus = os.path.join(daemon.dir, "bogus.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(bogus)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.send(b"\x00 not a HELLO reply " * 3)
        conn.recv(1)
        conn.close()
    t = threading.Thread(target=serve)
    t.start()
    with pytest.raises(errseq.ProtocolError) as ei:
        errseq.Client(bogus)
    t.join(30)
    srv.close()
    assert ei.value.code == errseq.ERRSEQ_EPROTO
    assert ei.value.errno == 4099
    assert str(ei.value).endswith(errseq.strerror(errseq.ERRSEQ_EPROTO))
    # the daemon goes away: control calls say ENOTCONN
    daemon.kill()
    with pytest.raises(errseq.NotConnectedError) as ei:
        for _ in range(1000):     # until the client notices the hang-up
            client.status()
    assert isinstance(ei.value, ConnectionError)
    assert ei.value.errno == errno.ENOTCONN


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become nobody")
def test_permission_errors(client, daemon):
    # a socket in root's private directory: EACCES for nobody
    private = os.path.join(daemon.dir, "private")
    os.mkdir(private, 0o700)
    hidden = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    hidden.bind(os.path.join(private, "s.sock"))
    hidden.listen(1)
    os.chmod(daemon.dir, 0o755)
    os.chmod(daemon.socket, 0o666)
    s = client.open("roots", create=True)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                errseq.Client(os.path.join(private, "s.sock"))
            except PermissionError as e:
                os.write(w, f"connect:{e.errno} ".encode())
            with errseq.Client(daemon.socket) as c:
                ro = c.open("roots")
                out = [str(int(ro.writable))]
                try:
                    ro.set(errno.EIO)
                except PermissionError as e:
                    out.append(f"set:{e.errno}")
                try:
                    c.unlink("roots")
                except PermissionError as e:
                    out.append(f"unlink:{e.errno}")
                os.write(w, " ".join(out).encode())
                code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    hidden.close()
    assert out == (f"connect:{errno.EACCES} "
                   f"0 set:{errno.EPERM} unlink:{errno.EPERM}")
    assert s.peek() == 0


def test_stale_slot(client):
    slot = client.open("gone", create=True)
    cur = slot.cursor()
    slot.set(errno.EIO)
    client.unlink("gone")
    with pytest.raises(errseq.StaleError) as ei:
        cur.check()
    assert ei.value.code == errseq.ERRSEQ_ESTALE
    assert ei.value.errno == 4097
    assert errseq.strerror(errseq.ERRSEQ_ESTALE) in str(ei.value)
    assert isinstance(ei.value, OSError)
    with pytest.raises(errseq.StaleError):
        slot.set(errno.EIO)
    with pytest.raises(errseq.StaleError):
        cur.wait(timeout=1)
    with pytest.raises(errseq.StaleError):
        slot.cursor()
    assert slot.peek() == 0
    # the name is free again, and a new slot starts clean
    fresh = client.open("gone", create=True, exclusive=True)
    assert fresh.cursor().check() == 0


def test_bad_input(client):
    slot = client.open("bad", create=True)
    for value in (0, -errno.EIO, 4096, 1 << 40):
        with pytest.raises(ValueError):
            slot.set(value)
    for value in ("EIO", 5.0, None, True):
        with pytest.raises(TypeError):
            slot.set(value)
    assert client.stat("bad").sets_total == 0   # nothing was stored
    for name in ("", "a b", "x" * 129, "é", "semi;colon"):
        with pytest.raises(ValueError):
            client.open(name, create=True)
    with pytest.raises(TypeError):
        client.open(42)
    with pytest.raises(ValueError):
        client.open("ok", exclusive=True)          # needs create
    with pytest.raises(ValueError):
        client.open("ok", writers_group=0)         # needs create
    with pytest.raises(ValueError):
        client.open("ok", create=True, writers_group="no-such-group-xyz")
    cur = slot.cursor()
    with pytest.raises(ValueError):
        cur.wait(timeout=-1)
    with pytest.raises(ValueError):
        slot.check(-1)
    w = client.watch()
    with pytest.raises(TypeError):
        w.add("cursor")
    w.add(cur)
    with pytest.raises(FileExistsError):
        w.add(cur)
    w.remove(cur)
    with pytest.raises(FileNotFoundError):
        w.remove(cur)
    assert len("x" * 128) == errseq.ERRSEQ_NAME_MAX
    client.open("x" * 128, create=True)            # the longest name is fine


def test_use_after_close_raises_valueerror(daemon):
    c = errseq.Client(daemon.socket)
    slot = c.open("s", create=True)
    cur = slot.cursor()
    other = slot.cursor()
    w = c.watch()
    w.add(cur)
    w.add(other)
    other.close()                      # taken out of the watch first
    assert w.cursors == [cur]
    slot.set(errno.EIO)
    assert [(r.name, r.error) for r in w] == [("s", errno.EIO)]
    with pytest.raises(ValueError):
        other.check()
    with pytest.raises(ValueError):
        w.add(other)
    c.close()
    c.close()                          # idempotent
    assert (c.closed, slot.closed, cur.closed, w.closed) == \
        (True, True, True, True)
    for call in (lambda: slot.set(errno.EIO), cur.check, w.fileno, w.next,
                 lambda: c.open("s"), c.list, c.status, slot.peek,
                 lambda: cur.wait(0)):
        with pytest.raises(ValueError):
            call()


def test_close_slot_while_another_thread_waits(client):
    slot = client.open("w", create=True)
    cur = slot.cursor()
    errors = []

    def waiter():
        try:
            cur.wait()
        except ValueError as e:
            errors.append(str(e))
    t = threading.Thread(target=waiter)
    t.start()
    slot.close()                       # waits for the waiter to let go
    t.join(30)
    assert not t.is_alive()
    assert errors == ["I/O operation on a closed errseq cursor"]


def test_library_not_found(tmp_path):
    missing = str(tmp_path / "liberrseq-client.so.0")
    with pytest.raises(errseq.LibraryNotFoundError) as ei:
        errseq.Client(library=missing)
    assert isinstance(ei.value, ImportError)
    assert missing in str(ei.value)
    assert "ERRSEQ_LIBRARY" in str(ei.value)
    # and through the environment, in a fresh interpreter
    env = dict(os.environ, ERRSEQ_LIBRARY=missing)
    prog = ("import errseq\n"
            "try:\n errseq.Client()\n"
            "except errseq.LibraryNotFoundError as e:\n print(e)\n")
    out = subprocess.run([sys.executable, "-c", prog], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("cannot load the errseqd client library "
                          "liberrseq-client.so.0: tried " + missing)
    assert "ERRSEQ_LIBRARY=/path/to/liberrseq-client.so.0" in out


def test_version_is_configures():
    top = os.environ.get("ERRSEQ_TOP_BUILDDIR")
    if not top:
        pytest.skip("ERRSEQ_TOP_BUILDDIR is not set: run through make check")
    with open(os.path.join(top, "config.h")) as f:
        line = [x for x in f if x.startswith("#define PACKAGE_VERSION ")][0]
    assert errseq.__version__ == line.split('"')[1]
