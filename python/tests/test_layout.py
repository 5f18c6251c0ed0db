"""The ctypes structures and constants against the C compiler's view
(python/tests/layout, built by make check: $ERRSEQ_LAYOUT_BIN)."""
from __future__ import annotations

import ctypes
import os
import subprocess

import pytest

from errseq import _lib

STRUCTS = {
    "errseq_slot_info": _lib.SlotInfoStruct,
    "errseq_daemon_status": _lib.DaemonStatusStruct,
    "errseq_slot_attr": _lib.SlotAttrStruct,
}


def c_layout() -> list:
    prog = os.environ.get("ERRSEQ_LAYOUT_BIN")
    if not prog:
        pytest.skip("ERRSEQ_LAYOUT_BIN is not set: run through make check")
    out = subprocess.run([prog], check=True, capture_output=True, text=True)
    return [line.split() for line in out.stdout.splitlines()]


def test_struct_sizes_and_offsets_match_c():
    lines = c_layout()
    seen = {name: set() for name in STRUCTS}
    for words in lines:
        if words[0] == "codes":
            continue
        struct, field, value = words[0], words[1], int(words[2])
        cls = STRUCTS[struct]
        if field == "sizeof":
            assert ctypes.sizeof(cls) == value, struct
        else:
            assert getattr(cls, field).offset == value, (struct, field)
            seen[struct].add(field)
    for name, cls in STRUCTS.items():
        # every ctypes field was checked against C
        assert seen[name] == {f for f, _ in cls._fields_}, name


def test_constants_match_c():
    codes = [w for w in c_layout() if w[0] == "codes"][0][1:]
    assert [int(x) for x in codes] == [
        _lib.ERRSEQ_ESTALE, _lib.ERRSEQ_EFORKED, _lib.ERRSEQ_EPROTO,
        _lib.ERRSEQ_EUNSAFE, _lib.ERRSEQ_CREATE, _lib.ERRSEQ_EXCL,
        _lib.ERRSEQ_NAME_MAX, _lib.ERRSEQ_ATTR_WRITERS_GROUP,
        _lib.ERRSEQ_NO_GROUP, _lib.ERRSEQ_LIST_END]
