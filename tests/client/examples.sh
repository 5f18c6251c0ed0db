#!/bin/sh
# tests/client/examples.sh - the two event-loop examples, run as a user
# would run them: examples/epoll-watcher and examples/libevent-watcher
# watch three slots of a private errseqd (temporary socket, --persist none)
# through one errseq_watch fd each, while examples/producer records errors
# from other processes.  Each watcher must print every new error once, in
# the slot it was recorded in, nothing for the slot nobody wrote, a line for
# the slot deleted under it, and stop cleanly (epoll: end of input;
# libevent: SIGINT).
set -u
top="${ERRSEQ_TOP_BUILDDIR:?run me from make check}"
ctl="${ERRSEQCTL_BIN:?}"
tmp=$(mktemp -d /tmp/esq-examples.XXXXXX)
daemon=""
watcher=""
cleanup() {
	[ -n "$watcher" ] && kill "$watcher" 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "examples.sh: FAIL: $*" >&2
	for f in "$tmp"/*.out "$tmp/errseqd.log"; do
		[ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

export ERRSEQD_SOCKET="$tmp/errseqd.sock"
"$ERRSEQD_BIN" --socket "$ERRSEQD_SOCKET" --persist none --slots 64 \
	2>"$tmp/errseqd.log" &
daemon=$!
i=0
until "$ctl" status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "errseqd did not start"
	sleep 0.1
done

# wait_for FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN
wait_for() {
	i=0
	while [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -lt "$3" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && fail "$1: no $3 x '$2' within 30 s"
		sleep 0.1
	done
}

produce() {
	"$top/examples/producer" "$1" "$2" >/dev/null || fail "producer $1 $2"
}

make_slots() {
	for s in disk0 disk1 net0; do
		"$ctl" create "$s" >/dev/null || fail "create $s"
	done
}

# check_one NAME: the watcher's output is $tmp/NAME.out (slots made first)
check_one() {
	name=$1
	out="$tmp/$name.out"
	wait_for "$out" "^watching 3 slots" 1
	produce disk0 EIO
	wait_for "$out" "^disk0: " 1
	produce net0 ENOSPC
	wait_for "$out" "^net0: " 1
	# the same errno again, after the watcher consumed it: a new report
	produce disk0 EIO
	wait_for "$out" "^disk0: " 2
	"$ctl" delete disk1 >/dev/null || fail "delete disk1"
	wait_for "$out" "^a slot was deleted" 1
	# one more, so that the count above is final: nothing came twice
	produce net0 EROFS
	wait_for "$out" "^net0: " 2
	[ "$(grep -c '^disk0: Input/output error$' "$out")" = 2 ] ||
		fail "$name: disk0 reports"
	[ "$(grep -c '^net0: No space left on device$' "$out")" = 1 ] ||
		fail "$name: net0 ENOSPC reports"
	[ "$(grep -c '^net0: Read-only file system$' "$out")" = 1 ] ||
		fail "$name: net0 EROFS reports"
	grep -q '^disk1' "$out" && fail "$name: reported disk1, never set"
	[ "$(grep -c -v -e '^watching' -e '^disk0: ' -e '^net0: ' \
		-e '^a slot was deleted$' "$out")" = 0 ] ||
		fail "$name: unexpected output"
	for s in disk0 net0; do
		"$ctl" delete "$s" >/dev/null || fail "delete $s"
	done
}

# Both ways the watch fd can be signalled: as the library chooses
# (io_uring where the kernel has FUTEX_WAITV) and its helper thread.
for how in auto thread; do
if [ "$how" = thread ]; then
	export ERRSEQ_WATCH=thread
else
	unset ERRSEQ_WATCH
fi
# epoll-watcher stops at the end of its standard input: a fifo we hold open
rm -f "$tmp/in"
mkfifo "$tmp/in"
make_slots
"$top/examples/epoll-watcher" disk0 disk1 net0 <"$tmp/in" \
	>"$tmp/epoll-$how.out" 2>&1 &
watcher=$!
exec 3>"$tmp/in"
check_one "epoll-$how"
exec 3>&-
i=0
while kill -0 "$watcher" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "epoll-watcher did not stop at end of input"
	sleep 0.1
done
wait "$watcher" || fail "epoll-watcher exited $?"
watcher=""

make_slots
"$top/examples/libevent-watcher" disk0 disk1 net0 >"$tmp/libevent-$how.out" 2>&1 &
watcher=$!
check_one "libevent-$how"
kill -INT "$watcher"
wait "$watcher" || fail "libevent-watcher exited $? on SIGINT"
watcher=""
done
echo "examples.sh: epoll-watcher and libevent-watcher, io_uring and thread: every report once"
exit 0
