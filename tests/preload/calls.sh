#!/bin/sh
# tests/preload/calls.sh - the library changes nothing the program sees:
# every interposed call returns the same value and errno, call by call,
# with and without it, on success and on failure (EBADF, EINVAL, EPIPE,
# EFBIG past RLIMIT_FSIZE, and as root real write-back errors on a failing
# ext4), while the errors are recorded.
. "$(dirname "$0")/common.sh"

tp_start_daemon
mkdir "$tp_tmp/without" "$tp_tmp/with"
fail_a="" fail_b=""
if [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ] &&
	(PATH="$PATH:/sbin:/usr/sbin"; command -v losetup && command -v mkfs.ext4) >/dev/null; then
	tp_failing_fs; fail_a=$tp_mnt
	tp_failing_fs; fail_b=$tp_mnt; slot_b=$tp_slot
else
	echo "not root or no loop devices: the real write-back error calls are left out"
fi

"$ERRSEQ_PRELOAD_HELPER" calls "$tp_tmp/without" $fail_a >"$tp_tmp/out.without" 2>&1
rc1=$?
"$ERRSEQ_RUN_BIN" -- "$ERRSEQ_PRELOAD_HELPER" calls "$tp_tmp/with" $fail_b \
	>"$tp_tmp/out.with" 2>&1
rc2=$?
cat "$tp_tmp/out.with"
[ "$rc1" = 0 ] && [ "$rc2" = 0 ] || tp_fail "helper exited $rc1 without, $rc2 with the library"
diff -u "$tp_tmp/out.without" "$tp_tmp/out.with" ||
	tp_fail "the calls returned something else with the library"
grep -q '^pwritev64v2-efbig -1 EFBIG$' "$tp_tmp/out.with" ||
	tp_fail "the EFBIG case did not happen"

# The failures were recorded: EFBIG in the slot of /tmp's file system...
tmp_slot="dev/$(stat -c '%Hd:%Ld' "$tp_tmp/with/.")"
"$ERRSEQCTL_BIN" --json stat "$tmp_slot" | grep -q '"errno_name":"EFBIG"' ||
	tp_fail "EFBIG was not recorded in $tmp_slot"
# ...and (as root) the real ones in the failing ext4's slot.
if [ -n "$fail_b" ]; then
	grep -q '^fsync -1 E' "$tp_tmp/out.with" || tp_fail "fsync did not fail"
	sets=$(tp_stat_field "$slot_b" sets_total)
	[ "${sets:-0}" -ge 1 ] || tp_fail "nothing recorded in $slot_b"
fi
# The caller's own mistakes (EBADF, EINVAL, EPIPE) were not: the only
# slots are those two.
"$ERRSEQCTL_BIN" list
n=$("$ERRSEQCTL_BIN" --json list | grep -c '"name"')
want=1
[ -n "$fail_b" ] && want=2
[ "$n" = "$want" ] || tp_fail "$n slots, expected $want"
exit 0
