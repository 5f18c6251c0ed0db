#!/bin/sh
# tests/preload/two.sh - two processes, one error.  Two interposed
# processes hold the same file open (two open file descriptions) when its
# write-back fails.  The kernel reports the error to each once (a second
# fsync returns 0); the slot records it once and the watcher, which
# consumed it after the first process recorded it, is told once.  Then the
# same with ERRSEQ_PRELOAD_WINDOW_MS=0 (merging off) records it twice:
# proof that the first half can fail.
. "$(dirname "$0")/common.sh"

tp_failing_fs
tp_start_daemon

# run_pair FILE WATCHOUT: holders A and B on FILE, 40 MiB written by a
# plain dd (no library, no fsync), then A fsyncs twice, the watcher must
# report, then B fsyncs twice.
run_pair() {
	file=$1 watch=$2
	for p in A B; do
		rm -f "$tp_tmp/$p.in"
		mkfifo "$tp_tmp/$p.in"
	done
	"$ERRSEQ_RUN_BIN" -- "$ERRSEQ_PRELOAD_HELPER" hold "$file" \
		<"$tp_tmp/A.in" >"$tp_tmp/A.out" 2>&1 &
	pa=$!
	"$ERRSEQ_RUN_BIN" -- "$ERRSEQ_PRELOAD_HELPER" hold "$file" \
		<"$tp_tmp/B.in" >"$tp_tmp/B.out" 2>&1 &
	pb=$!
	others=$tp_bg	# the watcher: still to be stopped by the caller
	tp_bg="$tp_bg $pa $pb"
	exec 3>"$tp_tmp/A.in" 4>"$tp_tmp/B.in"
	tp_wait_lines "$tp_tmp/A.out" 1 && tp_wait_lines "$tp_tmp/B.out" 1 ||
		tp_fail "the holders did not start"
	dd if=/dev/zero of="$file" bs=1M count=40 conv=notrunc 2>/dev/null ||
		tp_fail "dd"
	echo fsync >&3; echo fsync >&3
	tp_wait_lines "$tp_tmp/A.out" 3 || tp_fail "A did not fsync"
	tp_wait_lines "$watch" 1 || tp_fail "the watcher was not told: $(cat "$tp_tmp/A.out" "$watch.err")"
	echo fsync >&4; echo fsync >&4
	tp_wait_lines "$tp_tmp/B.out" 3 || tp_fail "B did not fsync"
	echo quit >&3; echo quit >&4
	exec 3>&- 4>&-
	wait "$pa" "$pb"
	tp_bg=$others
	echo "A:"; cat "$tp_tmp/A.out"; echo "B:"; cat "$tp_tmp/B.out"
	# The kernel's side: each fd is told once.
	for p in A B; do
		sed -n 2p "$tp_tmp/$p.out" | grep -q '^fsync -1 E' ||
			tp_fail "$p's first fsync did not fail"
		sed -n 3p "$tp_tmp/$p.out" | grep -q '^fsync 0 -$' ||
			tp_fail "$p's second fsync did not return 0"
	done
	[ "$(sed -n 2p "$tp_tmp/A.out")" = "$(sed -n 2p "$tp_tmp/B.out")" ] ||
		tp_fail "A and B met different errors"
}

# 1. Merged: one recording, one report.
tp_watch "$tp_slot" "$tp_tmp/watch1"
ERRSEQ_PRELOAD_WINDOW_MS=600000 run_pair "$tp_mnt/one" "$tp_tmp/watch1"
sets=$(tp_stat_field "$tp_slot" sets_total)
[ "$sets" = 1 ] || tp_fail "the slot holds $sets recordings of one error, expected 1"
tp_stop_watchers
cat "$tp_tmp/watch1"
[ "$(wc -l <"$tp_tmp/watch1")" = 1 ] || tp_fail "the watcher was told more than once"

# 2. Control, merging off, on a fresh file system: two recordings, and a
# watcher that consumed the first is told twice.
tp_failing_fs
tp_watch "$tp_slot" "$tp_tmp/watch2"
export ERRSEQ_PRELOAD_WINDOW_MS=0
run_pair "$tp_mnt/two" "$tp_tmp/watch2"
unset ERRSEQ_PRELOAD_WINDOW_MS
sets=$(tp_stat_field "$tp_slot" sets_total)
[ "$sets" = 2 ] || tp_fail "control: $sets recordings, expected 2"
tp_wait_lines "$tp_tmp/watch2" 2 || tp_fail "control: the watcher was told once"
tp_stop_watchers
exit 0
