#!/bin/sh
# tests/preload/forkexec.sh - children record: one made by fork and exec
# (the library and its settings reach it through the environment), one by
# fork alone.  The slot's last pid is each child's.
. "$(dirname "$0")/common.sh"

tp_start_daemon
# Merging off: the two children's EFBIGs are two recordings.
ERRSEQ_PRELOAD_WINDOW_MS=0 "$ERRSEQ_RUN_BIN" --slot test/children -- \
	"$ERRSEQ_PRELOAD_HELPER" \
	forkexec "$tp_tmp/f" >"$tp_tmp/out"
rc=$?
cat "$tp_tmp/out"
[ "$rc" = 0 ] || tp_fail "the program exited $rc"
execpid=$(sed -n 's/^exec-child //p' "$tp_tmp/out")
forkpid=$(sed -n 's/^fork-child //p' "$tp_tmp/out")
[ -n "$execpid" ] && [ -n "$forkpid" ] || tp_fail "no child pids"
grep -q "^pid $execpid$" "$tp_tmp/out" || tp_fail "the exec child did not run"
# Two recordings, the last one the fork child's.
sets=$(tp_stat_field test/children sets_total)
[ "$sets" = 2 ] || tp_fail "$sets recordings, expected 2"
pid=$(tp_stat_field test/children last_pid)
[ "$pid" = "$forkpid" ] || tp_fail "last pid $pid, the fork child's is $forkpid"
exit 0
