#!/usr/bin/env python3
"""json_check.py - parse errseqctl's JSON output strictly and print fields.

Used by errseqctl's tests (json_q in tests/support/ctl_util.c), which compare
what this prints with the values they expect: the JSON is read by a real
parser, never matched as text.

    json_check.py [--lines] PATH...

Reads standard input as one JSON document (or, with --lines, one document
per non-empty line, as `errseqctl watch --json` prints; they form a list).
Duplicate keys, NaN/Infinity and trailing garbage are errors (exit 1).
For each PATH prints the value found there, as compact JSON with sorted
keys, one per line, or <missing> if there is nothing there.

A PATH is a dot-separated list of steps:
    key          the member of an object        slots
    N            the N-th element of a list     slots.0
    #            the length of a list/object    slots.#
    key=VALUE    the first element of a list whose member `key` is the
                 string VALUE                   slots.name=disk0.errno
    ~keys        the sorted member names of an object
VALUE may contain dots only as its last step.
"""
import json
import sys


class Missing(Exception):
    pass


def no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError("duplicate key %r" % key)
        obj[key] = value
    return obj


def no_constant(name):
    raise ValueError("non-standard JSON constant %s" % name)


def parse(text):
    return json.loads(text, object_pairs_hook=no_duplicates,
                      parse_constant=no_constant)


def step(value, s):
    if s == "#":
        if isinstance(value, (list, dict)):
            return len(value)
        raise Missing()
    if s == "~keys":
        if isinstance(value, dict):
            return sorted(value)
        raise Missing()
    if "=" in s and isinstance(value, list):
        key, want = s.split("=", 1)
        for item in value:
            if isinstance(item, dict) and item.get(key) == want:
                return item
        raise Missing()
    if isinstance(value, list):
        try:
            return value[int(s)]
        except (ValueError, IndexError):
            raise Missing()
    if isinstance(value, dict) and s in value:
        return value[s]
    raise Missing()


def lookup(doc, path):
    value = doc
    steps = path.split(".") if path else []
    i = 0
    while i < len(steps):
        s = steps[i]
        # key=VALUE may hold dots (slot names do): try the longest match
        if "=" in s and isinstance(value, list):
            for j in range(len(steps), i, -1):
                try:
                    value = step(value, ".".join(steps[i:j]))
                    i = j
                    break
                except Missing:
                    continue
            else:
                raise Missing()
            continue
        value = step(value, s)
        i += 1
    return value


def main(argv):
    lines = False
    if argv and argv[0] == "--lines":
        lines = True
        argv = argv[1:]
    text = sys.stdin.read()
    try:
        if lines:
            doc = [parse(line) for line in text.split("\n") if line.strip()]
        else:
            doc = parse(text)
    except ValueError as e:
        sys.stderr.write("json_check: invalid JSON: %s\n" % e)
        return 1
    for path in argv:
        try:
            out = json.dumps(lookup(doc, path), sort_keys=True,
                             separators=(",", ":"))
        except Missing:
            out = "<missing>"
        sys.stdout.write(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
