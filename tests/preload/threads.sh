#!/bin/sh
# tests/preload/threads.sh - eight threads meet errors at once, with
# successes in between: every call returns what it should; the 400 EFBIGs
# in one slot are one error within the window (one recording), and 400
# recordings with merging off.
. "$(dirname "$0")/common.sh"

tp_start_daemon
mkdir "$tp_tmp/a" "$tp_tmp/b"
ERRSEQ_PRELOAD_WINDOW_MS=600000 "$ERRSEQ_RUN_BIN" --slot test/threads -- \
	"$ERRSEQ_PRELOAD_HELPER" threads "$tp_tmp/a" 8 50 ||
	tp_fail "wrong results from the calls"
sets=$(tp_stat_field test/threads sets_total)
[ "$sets" = 1 ] || tp_fail "merged: $sets recordings, expected 1"
ERRSEQ_PRELOAD_WINDOW_MS=0 "$ERRSEQ_RUN_BIN" --slot test/threads2 -- \
	"$ERRSEQ_PRELOAD_HELPER" threads "$tp_tmp/b" 8 50 ||
	tp_fail "wrong results from the calls (merging off)"
sets=$(tp_stat_field test/threads2 sets_total)
[ "$sets" = 400 ] || tp_fail "unmerged: $sets recordings, expected 400"
exit 0
