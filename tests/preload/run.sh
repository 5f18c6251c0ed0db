#!/bin/sh
# tests/preload/run.sh - errseq-run itself: exit statuses, usage errors,
# LD_PRELOAD kept and not doubled, and where errors go (--map, the map
# file, --slot, the per-device default).
. "$(dirname "$0")/common.sh"

run() { "$ERRSEQ_RUN_BIN" "$@"; }

run -- sh -c 'exit 3'; [ $? = 3 ] || tp_fail "exit status not passed on"
run --slot 'bad name' -- true 2>/dev/null; [ $? = 125 ] || tp_fail "bad --slot"
run --map relative=x -- true 2>/dev/null; [ $? = 125 ] || tp_fail "bad --map"
run 2>/dev/null; [ $? = 125 ] || tp_fail "no command"
run -- "$tp_tmp/none" 2>/dev/null; [ $? = 127 ] || tp_fail "missing command"
run -- "$tp_tmp" 2>/dev/null; [ $? = 126 ] || tp_fail "not executable"
ERRSEQ_PRELOAD_LIB="$tp_tmp/none.so" run -- true 2>/dev/null
[ $? = 125 ] || tp_fail "missing library"
run --help | grep -q '^Usage: errseq-run' || tp_fail "--help"
out=$(LD_PRELOAD=libm.so.6 run -- "$ERRSEQ_RUN_BIN" -- sh -c 'echo "$LD_PRELOAD"')
want="libm.so.6 $ERRSEQ_PRELOAD_LIB"
[ -n "${ERRSEQ_TEST_SAN_PRELOAD:-}" ] && want="$ERRSEQ_TEST_SAN_PRELOAD $want"
[ "$out" = "$want" ] || tp_fail "LD_PRELOAD is '$out', expected '$want'"

tp_start_daemon
mkdir -p "$tp_tmp/db/sub" "$tp_tmp/dbx" "$tp_tmp/logs"
printf '# map\n%s/logs = logs/app\n' "$tp_tmp" >"$tp_tmp/map"
run --map "$tp_tmp/db=db/main" -- "$ERRSEQ_PRELOAD_HELPER" efbig \
	"$tp_tmp/db/sub/f" >/dev/null || tp_fail "helper"
run --map "$tp_tmp/db=db/main" -- "$ERRSEQ_PRELOAD_HELPER" efbig \
	"$tp_tmp/dbx/f" >/dev/null || tp_fail "helper"
ERRSEQ_PRELOAD_MAP_FILE="$tp_tmp/map" run -- "$ERRSEQ_PRELOAD_HELPER" \
	efbig "$tp_tmp/logs/f" >/dev/null || tp_fail "helper"
run --slot fixed/one --map "$tp_tmp/logs=logs/app" -- \
	"$ERRSEQ_PRELOAD_HELPER" efbig "$tp_tmp/logs/g" >/dev/null ||
	tp_fail "helper"
"$ERRSEQCTL_BIN" list
devslot="dev/$(stat -c '%Hd:%Ld' "$tp_tmp/.")"
for s in db/main "$devslot" logs/app fixed/one; do
	[ "$(tp_stat_field "$s" sets_total)" = 1 ] ||
		tp_fail "slot $s should hold one recording"
done
exit 0
