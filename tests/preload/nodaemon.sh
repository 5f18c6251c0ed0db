#!/bin/sh
# tests/preload/nodaemon.sh - with no errseqd running the program runs
# exactly as without the library (same output, same exit status, nothing
# on stderr); with ERRSEQ_PRELOAD_VERBOSE it says so once.
. "$(dirname "$0")/common.sh"

export ERRSEQD_SOCKET="$tp_tmp/nobody.sock"
mkdir "$tp_tmp/a" "$tp_tmp/b" "$tp_tmp/c"
"$ERRSEQ_PRELOAD_HELPER" calls "$tp_tmp/a" >"$tp_tmp/out.without" 2>"$tp_tmp/err.without"
rc1=$?
"$ERRSEQ_RUN_BIN" -- "$ERRSEQ_PRELOAD_HELPER" calls "$tp_tmp/b" \
	>"$tp_tmp/out.with" 2>"$tp_tmp/err.with"
rc2=$?
[ "$rc1" = "$rc2" ] || tp_fail "exit status $rc1 without, $rc2 with the library"
diff -u "$tp_tmp/out.without" "$tp_tmp/out.with" || tp_fail "output differs"
[ -s "$tp_tmp/err.with" ] && tp_fail "stderr: $(cat "$tp_tmp/err.with")"
grep -q 'EFBIG' "$tp_tmp/out.with" || tp_fail "no error met: the test tests nothing"

ERRSEQ_PRELOAD_VERBOSE=1 "$ERRSEQ_RUN_BIN" -- "$ERRSEQ_PRELOAD_HELPER" \
	calls "$tp_tmp/c" >"$tp_tmp/out.verbose" 2>"$tp_tmp/err.verbose"
cat "$tp_tmp/err.verbose"
diff -u "$tp_tmp/out.without" "$tp_tmp/out.verbose" || tp_fail "output differs (verbose)"
[ "$(wc -l <"$tp_tmp/err.verbose")" = 1 ] ||
	tp_fail "expected one line on stderr with ERRSEQ_PRELOAD_VERBOSE"
grep -q 'errseqd is not reachable' "$tp_tmp/err.verbose" ||
	tp_fail "the line does not say errseqd is unreachable"
exit 0
