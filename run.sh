#!/bin/sh
# run.sh - build errseqd (installing missing build packages when root) and
# run it in the foreground with the defaults for the current user.
# Arguments are passed to errseqd (try ./run.sh --help).
set -eu
top=$(cd "$(dirname "$0")" && pwd)
. "$top/scripts/bootstrap.sh"
need_packages $BUILD_PACKAGES ${ERRSEQ_EXTRA_PACKAGES:-}
build
echo "run.sh: starting $build_dir/daemon/errseqd (Ctrl-C stops it)" >&2
exec "$build_dir/daemon/errseqd" "$@"
