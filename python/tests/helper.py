"""A separate Python process for the tests, driven line by line on stdin.

    helper.py supervisor SOCKET NAME   "morning": take a cursor, print its
                                       check(); "round": print check() and
                                       a second check()
    helper.py boss SOCKET NAME         "S": print sample(); "C": print
                                       check(since), peek(), check(since)
    helper.py setter SOCKET            "NAME ERRNO": set it, print "ok"

Every answer is one line on stdout; EOF on stdin ends the process.
"""
from __future__ import annotations

import sys

import errseq


def main() -> int:
    mode, sock = sys.argv[1], sys.argv[2]
    with errseq.Client(sock) as c:
        slots = {}
        slot = c.open(sys.argv[3]) if len(sys.argv) > 3 else None
        cur = None
        since = 0
        print("ready", flush=True)
        for line in sys.stdin:
            words = line.split()
            if mode == "supervisor" and words == ["morning"]:
                cur = slot.cursor()
                out = f"{cur.check()}"
            elif mode == "supervisor" and words == ["round"]:
                told = cur.check()
                out = f"{told} {cur.check()}"
            elif mode == "boss" and words == ["S"]:
                since = slot.sample()
                out = f"{since}"
            elif mode == "boss" and words == ["C"]:
                out = f"{slot.check(since)} {slot.peek()} {slot.check(since)}"
            elif mode == "setter" and len(words) == 2:
                if words[0] not in slots:
                    slots[words[0]] = c.open(words[0])
                slots[words[0]].set(int(words[1]))
                out = "ok"
            else:
                out = f"bad command {line!r}"
            print(out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
