#!/bin/sh
# test.sh - build errseqd (installing missing build and test packages when
# root) and run every test: make check.
set -eu
top=$(cd "$(dirname "$0")" && pwd)
. "$top/scripts/bootstrap.sh"
# Tests also use python3 (parses errseqctl's JSON), systemd-analyze (verifies
# the units) and runuser/setpriv (security tests).
need_packages $BUILD_PACKAGES python3 systemd util-linux procps ${ERRSEQ_EXTRA_PACKAGES:-}
# The tests cover liberrseq-client.a too (tests/client/test_static).
ERRSEQ_CONFIGURE_FLAGS="--enable-static ${ERRSEQ_CONFIGURE_FLAGS:-}"
build
cd "$build_dir"
if ! make -j"$(nproc)" check; then
	for log in $(find . -name '*.log' -newer Makefile | grep -v config.log); do
		if grep -q -E '^:test-result: (FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null; then
			echo "===== $log" >&2
			tail -n 60 "$log" >&2
		fi
	done
	exit 1
fi
