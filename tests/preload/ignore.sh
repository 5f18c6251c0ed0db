#!/bin/sh
# tests/preload/ignore.sh - a program that calls fsync, ignores its result
# and exits 0 (tests/preload/helper.c, mode ignore) on a file system that
# fails write-back for real: the watcher still learns of the error, once,
# with the program's pid.
. "$(dirname "$0")/common.sh"

tp_failing_fs
tp_start_daemon
tp_watch "$tp_slot" "$tp_tmp/watch"

sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$tp_tmp/pid" \
	"$ERRSEQ_RUN_BIN" -- "$ERRSEQ_PRELOAD_HELPER" ignore "$tp_mnt/f"
rc=$?
[ "$rc" = 0 ] || tp_fail "the program exited $rc, expected 0"
sets=$(tp_stat_field "$tp_slot" sets_total)
[ "$sets" = 1 ] || tp_fail "slot $tp_slot holds $sets recordings, expected 1"
tp_wait_lines "$tp_tmp/watch" 1 || tp_fail "the watcher reported nothing"
tp_stop_watchers
cat "$tp_tmp/watch"
[ "$(wc -l <"$tp_tmp/watch")" = 1 ] || tp_fail "expected one report"
grep -q '"errno_name":"E[A-Z]*"' "$tp_tmp/watch" || tp_fail "no errno in the report"
pid=$(tp_stat_field "$tp_slot" last_pid)
[ "$pid" = "$(cat "$tp_tmp/pid")" ] || tp_fail "last pid $pid, the program's $(cat "$tp_tmp/pid")"
exit 0
