#!/bin/sh
# tests/preload/supervisor.sh - examples/supervisor finds a dev/* slot
# that did not exist when it started and logs the error recorded in it
# with the device and the pid of the program (run under errseq-run) that
# met it; a slot outside dev/ is not reported.
. "$(dirname "$0")/common.sh"

tp_start_daemon
sup="$ERRSEQ_TOP_BUILDDIR/examples/supervisor"
"$sup" --count 1 >"$tp_tmp/sup.out" 2>&1 &
suppid=$!
tp_bg="$suppid"
"$ERRSEQ_RUN_BIN" --slot other/slot -- "$ERRSEQ_PRELOAD_HELPER" efbig \
	"$tp_tmp/g" >/dev/null || tp_fail "helper"
"$ERRSEQ_RUN_BIN" -- "$ERRSEQ_PRELOAD_HELPER" efbig "$tp_tmp/f" \
	>"$tp_tmp/helper.out" || tp_fail "helper"
pid=$(sed -n 's/^pid //p' "$tp_tmp/helper.out")
dev=$(stat -c '%Hd:%Ld' "$tp_tmp/.")
wait "$suppid"
rc=$?
tp_bg=""
cat "$tp_tmp/sup.out"
[ "$rc" = 0 ] || tp_fail "supervisor exited $rc"
grep -q "write-back error on device $dev: .* (errno 27), met by pid $pid\$" \
	"$tp_tmp/sup.out" || tp_fail "no report of EFBIG on $dev by pid $pid"
grep -q "other/slot" "$tp_tmp/sup.out" && tp_fail "reported a slot outside dev/"
exit 0
