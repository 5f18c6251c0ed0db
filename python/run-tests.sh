#!/bin/sh
# python/run-tests.sh - run the Python binding's pytest suite (make check).
# Uses the build tree's liberrseq-client and errseqd; exits 77 (SKIP), and
# says why, when no python3 with pytest is installed.
top_srcdir=${ERRSEQ_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${ERRSEQ_TOP_BUILDDIR:-$(pwd)}
lib="$top_builddir/client/.libs/liberrseq-client.so.0"

py=
for cand in "${PYTHON:-python3}" python3 /usr/bin/python3; do
	if "$cand" -c 'import pytest' >/dev/null 2>&1; then
		py=$cand
		break
	fi
done
if [ -z "$py" ]; then
	echo "SKIP: no python3 with pytest (apt-get install python3-pytest)"
	exit 77
fi
if [ ! -e "$lib" ]; then
	echo "FAIL: $lib is not built"
	exit 99
fi

# A library built with ASan loads into python3 only after the ASan runtime.
asan=$(ldd "$lib" 2>/dev/null | sed -n 's/.*libasan[^ ]* => \([^ ]*\) .*/\1/p')
if [ -n "$asan" ]; then
	LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}"
	ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export LD_PRELOAD ASAN_OPTIONS
	if ! "$py" -c "import ctypes; ctypes.CDLL('$lib')" >/dev/null 2>&1; then
		echo "SKIP: $py cannot load the ASan-built $lib"
		exit 77
	fi
fi

ERRSEQ_LIBRARY=$lib
ERRSEQ_LAYOUT_BIN="$top_builddir/python/tests/layout"
ERRSEQ_TOP_BUILDDIR=$top_builddir
# the generated _version.py lives in the build tree, the sources in srcdir
PYTHONPATH="$top_builddir/python:$top_srcdir/python${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1	# leave no __pycache__ in either tree
export ERRSEQ_LIBRARY ERRSEQ_LAYOUT_BIN ERRSEQ_TOP_BUILDDIR PYTHONPATH \
	PYTHONDONTWRITEBYTECODE
exec "$py" -m pytest -q -p no:cacheprovider "$top_srcdir/python/tests"
