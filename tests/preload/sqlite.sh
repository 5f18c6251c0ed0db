#!/bin/sh
# tests/preload/sqlite.sh - the Debian sqlite3 shell, unmodified, inserts
# 40 MiB into a database on a file system that fails write-back for real.
# sqlite3 fails its COMMIT as it always would ("disk I/O error" or
# "database or disk is full"); a watcher started before it reports the
# error exactly once, with the sqlite3 process's pid (sqlite3 may meet it
# on the journal and then on the database while rolling back: one errno in
# one slot within the window is one error).
. "$(dirname "$0")/common.sh"

command -v sqlite3 >/dev/null 2>&1 ||
	tp_skip "sqlite3 not found (apt-get install sqlite3)"
tp_failing_fs
tp_start_daemon
tp_watch "$tp_slot" "$tp_tmp/watch"

cat >"$tp_tmp/load.sql" <<'SQL'
PRAGMA journal_mode=DELETE;
CREATE TABLE t(x BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
INSERT INTO t SELECT zeroblob(1048576) FROM n;
COMMIT;
SQL
sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$tp_tmp/pid" \
	"$ERRSEQ_RUN_BIN" -- sqlite3 -bail "$tp_mnt/db" \
	<"$tp_tmp/load.sql" >"$tp_tmp/sqlite.out" 2>&1
rc=$?
cat "$tp_tmp/sqlite.out"
[ "$rc" != 0 ] || tp_fail "sqlite3 succeeded: the file system did not fail"
grep -q -E 'disk I/O error|database or disk is full' "$tp_tmp/sqlite.out" ||
	tp_fail "sqlite3 did not report a disk error"
sets=$(tp_stat_field "$tp_slot" sets_total)
[ "$sets" = 1 ] || tp_fail "slot $tp_slot holds $sets recordings, expected 1"
tp_wait_lines "$tp_tmp/watch" 1 || tp_fail "the watcher reported nothing"
tp_stop_watchers
cat "$tp_tmp/watch"
[ "$(wc -l <"$tp_tmp/watch")" = 1 ] || tp_fail "expected one report"
pid=$(tp_stat_field "$tp_slot" last_pid)
[ "$pid" = "$(cat "$tp_tmp/pid")" ] || tp_fail "last pid $pid, sqlite3's $(cat "$tp_tmp/pid")"
exit 0
