# tests/preload/common.sh - sourced by the shell tests of liberrseq-preload:
# a real errseqd on a temporary socket and shm name, and a file system
# that fails write-back for real (ext4 on a loop device whose backing file
# lives on a nearly full tmpfs).  Everything is undone on exit, even on
# failure.
#
# Needs from make check: ERRSEQD_BIN, ERRSEQCTL_BIN, ERRSEQ_RUN_BIN,
# ERRSEQ_PRELOAD_LIB, ERRSEQ_PRELOAD_HELPER.

set -u
tp_tmp=$(mktemp -d /tmp/esq-preload.XXXXXX)
tp_shm="/esq-preload-$$"
tp_daemon=""
tp_loops=""
tp_mnts=""
tp_backs=""
tp_nfs=0
tp_bg=""

tp_cleanup() {
	for p in $tp_bg; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$tp_daemon" ] && kill "$tp_daemon" 2>/dev/null &&
		wait "$tp_daemon" 2>/dev/null
	for m in $tp_mnts; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for l in $tp_loops; do
		losetup -d "$l" 2>/dev/null
	done
	for b in $tp_backs; do
		umount "$b" 2>/dev/null || umount -l "$b" 2>/dev/null
	done
	rm -f "/dev/shm$tp_shm" "/dev/shm$tp_shm.reg"
	rm -rf "$tp_tmp"
}
trap tp_cleanup EXIT
trap 'exit 1' INT TERM HUP

# Sanitizer builds: the library and liberrseq-client need the ASan runtime
# loaded first, which uninstrumented programs (dd, sqlite3) do not do; so
# errseq-run is wrapped to put it first in LD_PRELOAD (make check passes
# ERRSEQ_TEST_SAN_PRELOAD), with leak checks off for those programs.
if [ -n "${ERRSEQ_TEST_SAN_PRELOAD:-}" ]; then
	cat >"$tp_tmp/errseq-run" <<EOF
#!/bin/sh
case " \${LD_PRELOAD:-} " in
*" $ERRSEQ_TEST_SAN_PRELOAD "*) ;;
*) LD_PRELOAD="$ERRSEQ_TEST_SAN_PRELOAD\${LD_PRELOAD:+ \$LD_PRELOAD}" ;;
esac
ASAN_OPTIONS="detect_leaks=0\${ASAN_OPTIONS:+:\$ASAN_OPTIONS}"
export LD_PRELOAD ASAN_OPTIONS
exec "$ERRSEQ_RUN_BIN" "\$@"
EOF
	chmod +x "$tp_tmp/errseq-run"
	ERRSEQ_RUN_BIN="$tp_tmp/errseq-run"
fi

tp_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

tp_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# tp_start_daemon: errseqd on $tp_tmp/errseqd.sock; exports ERRSEQD_SOCKET.
tp_start_daemon() {
	export ERRSEQD_SOCKET="$tp_tmp/errseqd.sock"
	"$ERRSEQD_BIN" --socket "$ERRSEQD_SOCKET" --shm "$tp_shm" \
		--slots 256 2>"$tp_tmp/errseqd.log" &
	tp_daemon=$!
	i=0
	until "$ERRSEQCTL_BIN" status >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			cat "$tp_tmp/errseqd.log" >&2
			tp_fail "errseqd did not start"
		fi
		sleep 0.1
	done
}

# tp_need_loop: skip unless root with loop devices, mkfs.ext4 and losetup.
tp_need_loop() {
	[ "$(id -u)" = 0 ] || tp_skip "needs root (mount, losetup)"
	[ -e /dev/loop-control ] || tp_skip "no /dev/loop-control (no loop devices)"
	for t in losetup mkfs.ext4 mount umount; do
		command -v "$t" >/dev/null 2>&1 ||
			PATH="$PATH:/sbin:/usr/sbin" command -v "$t" >/dev/null 2>&1 ||
			tp_skip "$t not found (apt-get install util-linux e2fsprogs mount)"
	done
	PATH="$PATH:/sbin:/usr/sbin"
}

# tp_failing_fs: a 24 MiB tmpfs holding a 64 MiB sparse image, an ext4 on
# it through a loop device, mounted on $tp_mnt.  Writing 40 MiB there
# fails at write-back: the loop device cannot store it.  Sets tp_dev to
# the ext4's MAJ:MIN and tp_slot to its slot, dev/MAJ:MIN.  May be called
# again for another, independent one.
tp_failing_fs() {
	tp_need_loop
	tp_nfs=$((tp_nfs + 1))
	back="$tp_tmp/back$tp_nfs" mnt="$tp_tmp/mnt$tp_nfs"
	mkdir "$back" "$mnt"
	mount -t tmpfs -o size=24m,mode=0700 esq-preload "$back" ||
		tp_skip "cannot mount a tmpfs (no CAP_SYS_ADMIN here?)"
	tp_backs="$back $tp_backs"
	truncate -s 64M "$back/img" || tp_fail "truncate"
	loop=$(losetup -f --show "$back/img" 2>"$tp_tmp/losetup.err") ||
		tp_skip "losetup failed: $(cat "$tp_tmp/losetup.err")"
	tp_loops="$loop $tp_loops"
	mkfs.ext4 -q -F "$loop" >"$tp_tmp/mkfs.log" 2>&1 ||
		tp_fail "mkfs.ext4: $(cat "$tp_tmp/mkfs.log")"
	mount -o errors=continue "$loop" "$mnt" ||
		tp_fail "cannot mount the ext4 on $loop"
	tp_mnts="$mnt $tp_mnts"
	tp_mnt=$mnt
	tp_dev=$(stat -c '%Hd:%Ld' "$mnt/.")
	tp_slot="dev/$tp_dev"
}

# tp_watch SLOT OUT: errseqctl watch --json on SLOT (created first) in the
# background, its output in OUT; returns once it watches.
tp_watch() {
	"$ERRSEQCTL_BIN" create "$1" 2>/dev/null || true
	"$ERRSEQCTL_BIN" --json watch "$1" >"$2" 2>"$2.err" &
	tp_bg="$tp_bg $!"
	# Ready when the daemon counts the watcher's handle.
	i=0
	until "$ERRSEQCTL_BIN" --json stat "$1" 2>/dev/null |
		grep -q '"holders":[1-9]'; do
		i=$((i + 1))
		[ $i -gt 300 ] && tp_fail "the watcher did not start: $(cat "$2.err")"
		sleep 0.1
	done
}

# tp_wait_lines FILE N: wait until FILE has at least N lines (or 60 s).
tp_wait_lines() {
	i=0
	while [ "$(wc -l <"$1")" -lt "$2" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		sleep 0.1
	done
	return 0
}

# tp_stat_field SLOT FIELD: a numeric field of errseqctl --json stat.
tp_stat_field() {
	"$ERRSEQCTL_BIN" --json stat "$1" |
		sed -n "s/.*\"$2\":\\([0-9-]*\\).*/\\1/p"
}

# tp_stop_watchers: stop the background watchers.
tp_stop_watchers() {
	for p in $tp_bg; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	tp_bg=""
}
