#!/usr/bin/env python3
"""fdstore.py - errseqd --persist fdstore keeps its slots across kill -9.

This test plays systemd's part of the protocol (sd_notify(3) with
FDSTORE=1, then LISTEN_FDS/LISTEN_FDNAMES at the next start), since no
systemd runs as PID 1 here:

  1. start errseqd with NOTIFY_SOCKET pointing at our datagram socket and
     --persist fdstore; collect every fd it stores, by FDNAME;
  2. create a slot, record EIO in it (errseqctl), kill -9 the daemon;
  3. start a new errseqd with the stored fds at 3.. (LISTEN_PID = its pid,
     LISTEN_FDS, LISTEN_FDNAMES) and check the slot and its value survived;
  4. a start with a damaged set (a chunk missing) is refused, naming
     --recreate, and changes nothing.

Needs $ERRSEQD_BIN and $ERRSEQCTL_BIN (make check sets them).
"""
import array
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DAEMON = os.environ.get("ERRSEQD_BIN")
CTL = os.environ.get("ERRSEQCTL_BIN")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def recv_notify(sock, stored, timeout):
    """Read notify datagrams until READY=1 (or timeout); keep FDSTORE fds."""
    end = time.monotonic() + timeout
    ready = False
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            msg, anc, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
        except socket.timeout:
            break
        fds = array.array("i")
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        fields = dict(l.split("=", 1) for l in msg.decode().split("\n") if "=" in l)
        if fields.get("FDSTORE") == "1":
            name = fields.get("FDNAME", "stored")
            for fd in fds:
                if name in stored:
                    os.close(stored[name])
                stored[name] = fd
        else:
            for fd in fds:
                os.close(fd)
        if fields.get("READY") == "1":
            ready = True
            # keep reading what follows READY for a moment (none expected)
            end = min(end, time.monotonic() + 0.2)
    return ready


def start(sock_path, notify_path, log, passed=None):
    """Fork errseqd; with @passed ({name: fd}) as socket-activation fds."""
    pid = os.fork()
    if pid == 0:
        try:
            env = dict(os.environ)
            env["NOTIFY_SOCKET"] = notify_path
            if passed:
                names = list(passed)
                # move the fds to 3.. in order (dup first to avoid clashes)
                tmp = [os.dup(passed[n]) for n in names]
                for i, fd in enumerate(tmp):
                    os.dup2(fd, 3 + i)
                    os.set_inheritable(3 + i, True)
                env["LISTEN_PID"] = str(os.getpid())
                env["LISTEN_FDS"] = str(len(names))
                env["LISTEN_FDNAMES"] = ":".join(names)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 2)
            os.execve(DAEMON, [DAEMON, "--socket", sock_path, "--persist",
                               "fdstore", "--slots", "2048"], env)
        finally:
            os._exit(127)
    return pid


def ctl(sock_path, *args):
    return subprocess.run([CTL, "--socket", sock_path] + list(args),
                          capture_output=True, text=True, timeout=30)


def main():
    if not DAEMON or not CTL:
        print("SKIP: ERRSEQD_BIN/ERRSEQCTL_BIN not set (run by make check)")
        return 77
    tmp = tempfile.mkdtemp(prefix="esd-fdstore-")
    pids = []
    stored = {}
    try:
        sock_path = os.path.join(tmp, "errseqd.sock")
        notify_path = os.path.join(tmp, "notify")
        log = os.path.join(tmp, "errseqd.log")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)

        pid = start(sock_path, notify_path, log)
        pids.append(pid)
        if not recv_notify(notify, stored, 30):
            fail("first daemon never said READY=1; log:\n" + open(log).read())
        r = ctl(sock_path, "create", "disk0")
        if r.returncode != 0:
            fail("create: " + r.stderr)
        r = ctl(sock_path, "set", "disk0", "EIO")
        if r.returncode != 0:
            fail("set: " + r.stderr)
        # the chunk of disk0 is stored when it is made
        recv_notify(notify, stored, 1)
        if "esd-reg" not in stored or "esd-chunk-0" not in stored:
            fail("stored fds: %s (want esd-reg and esd-chunk-0)" % sorted(stored))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pids.remove(pid)

        # 4 first: a missing chunk is refused and changes nothing
        partial = {"esd-reg": stored["esd-reg"]}
        pid = start(sock_path, notify_path, log, partial)
        _, status = os.waitpid(pid, 0)
        text = open(log).read()
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 1:
            fail("a start with a chunk missing: status %r (want exit 1)" % status)
        if "--recreate" not in text.splitlines()[-1]:
            fail("the refusal does not name --recreate: " + text.splitlines()[-1])

        # 3: everything back: the slot and its value survived kill -9
        pid = start(sock_path, notify_path, log, stored)
        pids.append(pid)
        if not recv_notify(notify, {}, 30):
            fail("second daemon never said READY=1; log:\n" + open(log).read())
        r = ctl(sock_path, "--json", "stat", "disk0")
        if r.returncode != 0 or '"errno": 5' not in r.stdout.replace('"errno":5', '"errno": 5'):
            fail("after restart, stat disk0: rc %d out %r err %r" %
                 (r.returncode, r.stdout, r.stderr))
        if "adopted state" not in open(log).read():
            fail("the daemon did not adopt the stored state")
        print("PASS: fdstore kept disk0 (EIO) across kill -9; a partial set was refused")
        return 0
    finally:
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
                os.waitpid(p, 0)
            except OSError:
                pass
        for fd in stored.values():
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
