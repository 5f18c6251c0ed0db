"""A watch in asyncio (async for over reports set by another process), the
watch's fd with selectors, and fork(): an inherited client's control calls
raise ForkedError while its data path and a new Client work."""
from __future__ import annotations

import asyncio
import errno
import os
import selectors
import subprocess

import errseq
from conftest import helper_cmd

NAMES = ["async.0", "async.1", "async.2", "async.3"]


def start_setter(daemon):
    p = subprocess.Popen(helper_cmd("setter", daemon.socket),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "ready\n"
    return p


def setter_send(p, name, err):
    p.stdin.write(f"{name} {err}\n")
    p.stdin.flush()
    assert p.stdout.readline() == "ok\n"


def test_async_for_over_a_watch(client, daemon):
    slots = [client.open(n, create=True) for n in NAMES]
    w = client.watch()
    for s in slots:
        w.add(s.cursor())
    setter = start_setter(daemon)
    steps = [(NAMES[0], errno.EIO), (NAMES[2], errno.ENOSPC),
             (NAMES[1], errno.EROFS), (NAMES[0], errno.EDQUOT),
             (NAMES[3], errno.EIO), (NAMES[0], errno.EIO)]
    burst = {NAMES[1]: errno.EIO, NAMES[2]: errno.EPIPE,
             NAMES[3]: errno.ENOMEM}

    async def watcher():
        got = []
        loop = asyncio.get_running_loop()
        # one at a time: the setter (another process) sets the next only
        # once this one was reported
        it = w.__aiter__()
        for name, err in steps:
            await loop.run_in_executor(None, setter_send, setter, name, err)
            r = await asyncio.wait_for(it.__anext__(), 30)
            got.append((r.name, r.error, r.stale))
        # a burst: three sets on three slots, then three reports
        for name, err in burst.items():
            await loop.run_in_executor(None, setter_send, setter, name, err)
        for _ in burst:
            r = await asyncio.wait_for(it.__anext__(), 30)
            got.append((r.name, r.error, r.stale))
        await it.aclose()
        return got

    try:
        got = asyncio.run(watcher())
    finally:
        setter.stdin.close()
        assert setter.wait(30) == 0
    assert got[:len(steps)] == [(n, e, False) for n, e in steps]
    assert sorted(got[len(steps):]) == \
        sorted((n, e, False) for n, e in burst.items())
    assert w.next() is None                   # nothing twice
    assert [c.check() for c in w.cursors] == [0, 0, 0, 0]


def test_async_for_ends_when_the_watch_closes(client):
    s = client.open("closing", create=True)
    w = client.watch()
    w.add(s.cursor())

    async def main():
        got = []

        async def consume():
            async for r in w:
                got.append(r.error)
        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.05)
        s.set(errno.EIO)
        for _ in range(3000):
            if got:
                break
            await asyncio.sleep(0.01)
        w.close()
        await asyncio.wait_for(task, 30)
        return got
    assert asyncio.run(main()) == [errno.EIO]


def test_selectors_and_stale_reports(client):
    s = client.open("sel", create=True)
    cur = s.cursor()
    w = client.watch()
    w.add(cur)
    sel = selectors.DefaultSelector()
    sel.register(w, selectors.EVENT_READ)
    assert sel.select(timeout=0) == []
    s.set(errno.EIO)
    assert len(sel.select(timeout=30)) == 1
    reports = list(w)
    assert [(r.cursor is cur, r.error, r.stale) for r in reports] == \
        [(True, errno.EIO, False)]
    client.unlink("sel")
    assert len(sel.select(timeout=30)) == 1
    assert [(r.cursor is cur, r.error, r.stale) for r in w] == \
        [(True, 0, True)]
    w.remove(cur)
    sel.close()


def test_fork(client, daemon):
    client_socket = daemon.socket
    slot = client.open("forked", create=True)
    cur = slot.cursor()
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            out = []
            try:
                client.status()
            except errseq.ForkedError as e:
                out.append(f"status:{e.code}")
            try:
                client.open("forked")
            except errseq.ForkedError as e:
                out.append(f"open:{e.code}")
            slot.set(errno.ENOSPC)            # the data path works
            out.append(f"check:{cur.check()}")
            with errseq.Client(client_socket) as c2:   # a new client works
                s2 = c2.open("forked")
                out.append(f"new:{c2.stat('forked').last_pid == os.getpid()}"
                           f":{s2.peek()}")
            client.close()                    # frees the child's copies
            os.write(wfd, " ".join(out).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out == (f"status:{errseq.ERRSEQ_EFORKED} "
                   f"open:{errseq.ERRSEQ_EFORKED} check:{errno.ENOSPC} "
                   f"new:True:{0x101C}")
    # the parent's client is untouched by the child's close
    assert client.stat("forked").last_pid == pid
    # the cursor is process-local: the child consumed its own copy
    assert cur.check() == errno.ENOSPC
    assert cur.check() == 0
    assert slot.peek() == 0x101C
    assert client.status().clients == 1

