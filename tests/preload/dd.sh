#!/bin/sh
# tests/preload/dd.sh - a real write-back error met by a program nobody here
# wrote: `errseq-run -- dd ... conv=fsync` on an ext4 whose loop device
# cannot store the data.  dd fails as it always would; a watcher started
# before it reports the error exactly once, and the slot's last pid is
# dd's (errseq-run executes dd in its own place).
. "$(dirname "$0")/common.sh"

tp_failing_fs
tp_start_daemon
tp_watch "$tp_slot" "$tp_tmp/watch"

# sh writes its pid, then execs errseq-run, which execs dd: one pid.
sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$tp_tmp/dd.pid" \
	"$ERRSEQ_RUN_BIN" -- dd if=/dev/zero of="$tp_mnt/f" bs=1M count=40 \
	conv=fsync 2>"$tp_tmp/dd.err"
rc=$?
cat "$tp_tmp/dd.err"
[ "$rc" = 1 ] || tp_fail "dd exited $rc, expected 1"
# dd names the error: fsync failed for '...': Input/output error (or, on
# kernels whose loop driver passes the backing file's error on, No space
# left on device).
case $(cat "$tp_tmp/dd.err") in
*"fsync failed"*"Input/output error"*) want=EIO ;;
*"fsync failed"*"No space left on device"*) want=ENOSPC ;;
*) tp_fail "dd did not report a failed fsync" ;;
esac
ddpid=$(cat "$tp_tmp/dd.pid")

# Every recording dd made is in the slot before dd exits: exactly one.
sets=$(tp_stat_field "$tp_slot" sets_total)
[ "$sets" = 1 ] || tp_fail "slot $tp_slot holds $sets recordings, expected 1"
tp_wait_lines "$tp_tmp/watch" 1 || tp_fail "the watcher reported nothing"
tp_stop_watchers
cat "$tp_tmp/watch"
n=$(grep -c "\"errno_name\":\"$want\"" "$tp_tmp/watch")
total=$(wc -l <"$tp_tmp/watch")
[ "$n" = 1 ] && [ "$total" = 1 ] ||
	tp_fail "the watcher reported $total lines, $n of them $want; expected exactly one $want"
pid=$(tp_stat_field "$tp_slot" last_pid)
[ "$pid" = "$ddpid" ] || tp_fail "last pid $pid, dd's pid $ddpid"
echo "dd (pid $ddpid) met $want; slot $tp_slot: sets $sets, last pid $pid"
exit 0
