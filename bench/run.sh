#!/bin/sh
# bench/run.sh - run every errseqd benchmark and print one summary.
#
#   bench/run.sh BUILDDIR [--quick] [--reps N] [PROGRAM...]
#
# Called by `make bench` (which sets ERRSEQD_BIN, ERRSEQCTL_BIN and
# BENCH_OUT); may be run by hand from a build directory.  Each program
# prints its table, writes $BENCH_OUT/<program>.json and .txt; at the end
# the tables are printed together, with the machine they were measured on,
# into $BENCH_OUT/summary.md.  Exit status: non-zero if a program failed
# to run (a MISS against a goal is a result, not a failure).
#
# Packages beyond the build's: redis-server, for bench_alt's Redis row
# (apt-get install -y redis-server); without it that row says SKIP.
set -u

builddir=${1:?usage: run.sh BUILDDIR [--quick] [--reps N] [PROGRAM...]}
shift
cd "$builddir" || exit 2

: "${ERRSEQD_BIN:=$PWD/daemon/errseqd}"
: "${ERRSEQCTL_BIN:=$PWD/ctl/errseqctl}"
: "${ERRSEQ_EXPORTER_BIN:=$PWD/exporter/errseq-exporter}"
: "${BENCH_OUT:=$PWD/bench/results}"
export ERRSEQD_BIN ERRSEQCTL_BIN ERRSEQ_EXPORTER_BIN BENCH_OUT

flags=""
progs=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) flags="$flags --quick" ;;
	--reps) flags="$flags --reps $2"; shift ;;
	*) progs="$progs $1" ;;
	esac
	shift
done
[ -n "$progs" ] || progs="bench_data bench_xproc bench_alt bench_ctl bench_watch bench_exporter bench_preload"

mkdir -p "$BENCH_OUT"
case " $progs " in
*" bench_alt "*)
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] ||
		[ -n "${REDIS_SERVER:-}" ] ||
		echo "run.sh: no redis-server: bench_alt's Redis row will say SKIP (apt-get install -y redis-server)" >&2 ;;
esac
status=0
start=$(date +%s)
for p in $progs; do
	echo "== $p$flags" >&2
	rm -f "$BENCH_OUT/$p.txt" "$BENCH_OUT/$p.json"
	# shellcheck disable=SC2086
	if ! "./bench/$p" $flags; then
		echo "run.sh: $p failed" >&2
		status=1
	fi
done
end=$(date +%s)

summary=$BENCH_OUT/summary.md
{
	echo "# errseqd benchmarks"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $((end - start)) s"
	echo "- nproc: $(nproc)"
	echo "- cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "- kernel: $(uname -r)"
	echo "- compiler: $(${CC:-cc} --version 2>/dev/null | head -n 1)"
	echo "- flags:${flags:- (none)}"
	for p in $progs; do
		echo
		if [ -f "$BENCH_OUT/$p.txt" ]; then
			cat "$BENCH_OUT/$p.txt"
		else
			echo "## $p: no results (it failed: see above)"
		fi
	done
} > "$summary"

echo
echo "==================== summary ($summary) ===================="
cat "$summary"
exit $status
