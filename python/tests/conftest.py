"""pytest fixtures for the errseq binding: a real errseqd per test.

The daemon ($ERRSEQD_BIN, else the build tree's daemon/errseqd) listens on
a socket in a fresh private directory with --persist none; it is killed,
and the directory removed, when the test ends, pass or fail.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def errseqd_bin() -> str:
    path = os.environ.get("ERRSEQD_BIN")
    if path:
        return path
    top = os.environ.get("ERRSEQ_TOP_BUILDDIR")
    if top:
        return os.path.join(top, "daemon", "errseqd")
    pytest.skip("ERRSEQD_BIN is not set: run these tests through make check "
                "(python/run-tests.sh)")
    raise AssertionError("unreachable")


class Daemon:
    """A running errseqd on a temporary socket."""

    def __init__(self, extra: list = ()) -> None:
        self.dir = tempfile.mkdtemp(prefix="errseq-py-")
        self.socket = os.path.join(self.dir, "errseqd.sock")
        self.log = open(os.path.join(self.dir, "errseqd.log"), "wb")
        self.proc = subprocess.Popen(
            [errseqd_bin(), "--socket", self.socket, "--persist", "none",
             "--log-level", "warn", *extra],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("errseqd exited at startup")
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                try:
                    s.connect(self.socket)
                    break
                finally:
                    s.close()
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("errseqd did not accept in 20 s")
                time.sleep(0.01)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        self.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def daemon(request: pytest.FixtureRequest) -> Iterator[Daemon]:
    d = Daemon()
    request.addfinalizer(d.stop)
    yield d


@pytest.fixture
def client(daemon: Daemon) -> Iterator["object"]:
    import errseq
    c = errseq.Client(daemon.socket)
    try:
        yield c
    finally:
        c.close()


def helper_cmd(*args: str) -> list:
    """argv running python/tests/helper.py with this interpreter."""
    return [sys.executable, os.path.join(HERE, "helper.py"), *args]
