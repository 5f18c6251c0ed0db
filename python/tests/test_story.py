"""errseq.rst's story in Python processes: a worker (this process), 77
supervisors (each a process with its own Client and Cursor) and the big
boss (a process that samples and checks, never consuming)."""
from __future__ import annotations

import errno
import subprocess

import errseq
from conftest import helper_cmd

SUPERVISORS = 77

# (what the worker sets, the word after the set, what each supervisor is
#  told, the word once all have checked) -- as tests/test_errseq.c.
STORY = [
    (errno.EIO, 0x00000005, errno.EIO, 0x00001005),
    (errno.EIO, 0x00002005, errno.EIO, 0x00003005),
    (errno.ENOSPC, 0x0000401C, errno.ENOSPC, 0x0000501C),
    (4096, 0x0000501C, 0, 0x0000501C),          # invalid: nothing stored
    (errno.EIO, 0x00006005, errno.EIO, 0x00007005),
    (errno.EDQUOT, 0x0000807A, errno.EDQUOT, 0x0000907A),
    (errno.EIO, 0x0000A005, errno.EIO, 0x0000B005),
    (errno.EROFS, 0x0000C01E, errno.EROFS, 0x0000D01E),  # the boss's day
]


def ask(procs, line):
    for p in procs:
        p.stdin.write(line + "\n")
        p.stdin.flush()
    return [p.stdout.readline().strip() for p in procs]


def test_worker_77_supervisors_and_boss(daemon):
    with errseq.Client(daemon.socket) as c:
        wd = c.open("wd_err", create=True, exclusive=True)
        procs = []
        try:
            for i in range(SUPERVISORS + 1):
                mode = "boss" if i == SUPERVISORS else "supervisor"
                procs.append(subprocess.Popen(
                    helper_cmd(mode, daemon.socket, "wd_err"),
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    text=True))
            sups, boss = procs[:SUPERVISORS], procs[SUPERVISORS:]
            assert [p.stdout.readline().strip() for p in procs] == \
                ["ready"] * (SUPERVISORS + 1)
            assert c.status().clients == SUPERVISORS + 2
            # the morning: every supervisor takes a cursor; nothing yet
            assert ask(sups, "morning") == ["0"] * SUPERVISORS
            assert wd.peek() == 0
            for r, (err, after_set, told, after) in enumerate(STORY):
                boss_day = r == len(STORY) - 1
                if boss_day:
                    assert ask(boss, "S") == [str(0x0000B005)]
                if err > errseq.ERRSEQ_MAX_ERRNO:
                    try:
                        wd.set(err)
                    except ValueError:
                        pass
                    else:
                        raise AssertionError("set(4096) did not raise")
                else:
                    wd.set(err)
                assert wd.peek() == after_set, r
                # check, then check again: told once, then 0
                assert ask(sups, "round") == [f"{told} 0"] * SUPERVISORS, r
                assert wd.peek() == after, r
                if boss_day:
                    # he never advanced: told twice, the word unchanged
                    assert ask(boss, "C") == \
                        [f"{errno.EROFS} {0x0000D01E} {errno.EROFS}"]
            info = c.stat("wd_err")
            assert info.sets_total == 7          # the invalid set is not one
            assert info.value == 0x0000D01E
            assert info.error == errno.EROFS
            assert info.seen is True
            assert info.holders == SUPERVISORS + 2
        finally:
            for p in procs:
                p.stdin.close()
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        assert [p.returncode for p in procs] == [0] * (SUPERVISORS + 1)
