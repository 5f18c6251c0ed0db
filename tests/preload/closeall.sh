#!/bin/sh
# tests/preload/closeall.sh - a program that closes every fd (0 to 4095)
# and reuses the numbers still works and still records: the library keeps
# no fd between errors (the count of open fds is the same before and after
# a recorded error).
. "$(dirname "$0")/common.sh"

tp_start_daemon
"$ERRSEQ_RUN_BIN" --slot test/closeall -- "$ERRSEQ_PRELOAD_HELPER" \
	closeall "$tp_tmp/f" "$tp_tmp/out" </dev/null
rc=$?
cat "$tp_tmp/out"
[ "$rc" = 0 ] || tp_fail "the program exited $rc"
grep -q '^fd 0$' "$tp_tmp/out" || tp_fail "fd 0 was not reused"
grep -q '^pwrite -1 EFBIG$' "$tp_tmp/out" || tp_fail "no EFBIG"
[ "$(sed -n 's/^after //p' "$tp_tmp/out")" = 1 ] ||
	tp_fail "fds left open after the recorded error (expected only the program's own)"
"$ERRSEQCTL_BIN" --json stat test/closeall | grep -q '"errno_name":"EFBIG"' ||
	tp_fail "the error was not recorded"
exit 0
