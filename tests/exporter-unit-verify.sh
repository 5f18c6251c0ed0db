#!/bin/sh
# exporter-unit-verify.sh - check errseq-exporter.service with systemd's own
# tool, as tests/systemd-verify.sh does for errseqd's units:
# `systemd-analyze verify` on the GENERATED unit (ExecStart rewritten to
# the built exporter, which must exist and be executable; any output line
# fails, warnings included), then the settings its security rests on.
#
# Exit 77 (skip) when systemd-analyze is missing.  Uses
# $ERRSEQ_EXPORTER_BIN, $ERRSEQ_TOP_SRCDIR and $ERRSEQ_TOP_BUILDDIR from
# `make check`.
set -u

analyze=$(command -v systemd-analyze 2>/dev/null) || {
	echo "SKIP: systemd-analyze not found (Debian package systemd)"
	exit 77
}

srcdir=${ERRSEQ_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${ERRSEQ_TOP_BUILDDIR:-.}
bin=${ERRSEQ_EXPORTER_BIN:-$builddir/exporter/errseq-exporter}
unit=$builddir/systemd/errseq-exporter.service

fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/errseq-exporter-verify.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

[ -f "$unit" ] || { echo "FAIL: $unit not generated (run make first)"; exit 1; }
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
case $bin in
/*) ;;
*) bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") ;;
esac

if grep -n '@[a-z_]*@' "$unit"; then
	echo "FAIL: unsubstituted variables in $unit"
	fail=1
fi

mkdir "$tmp/units"
sed -e "s|^ExecStart=[^ ]*/errseq-exporter |ExecStart=$bin |" "$unit" \
	> "$tmp/units/errseq-exporter.service"
cp "$srcdir/systemd/errseqd.socket" "$tmp/units/errseqd.socket"
grep -q "^ExecStart=$bin " "$tmp/units/errseq-exporter.service" || {
	echo "FAIL: could not point ExecStart at $bin"
	fail=1
}

out=$(cd "$tmp/units" && SYSTEMD_LOG_LEVEL=notice SYSTEMD_PAGER= \
	"$analyze" verify --man=no errseq-exporter.service 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify (exit $rc):"
	printf '%s\n' "$out"
	fail=1
else
	echo "PASS: systemd-analyze verify errseq-exporter.service"
fi

[ -f "$srcdir/man/errseq-exporter.1" ] || {
	echo "FAIL: man/errseq-exporter.1 missing (Documentation=)"
	fail=1
}

# A read-only client: no privilege, no capability, nothing writable.
for want in 'DynamicUser=yes' 'SupplementaryGroups=errseqd' \
	    'CapabilityBoundingSet=' 'NoNewPrivileges=yes' \
	    'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
	    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
	grep -qx "$want" "$tmp/units/errseq-exporter.service" || {
		echo "FAIL: errseq-exporter.service lacks $want"
		fail=1
	}
done
for bad in '^ReadWritePaths=' '^User=root' '^AmbientCapabilities=.'; do
	if grep -q "$bad" "$tmp/units/errseq-exporter.service"; then
		echo "FAIL: errseq-exporter.service has $bad"
		fail=1
	fi
done
grep -q -- '--listen 127.0.0.1:' "$tmp/units/errseq-exporter.service" || {
	echo "FAIL: errseq-exporter.service does not listen on loopback by default"
	fail=1
}
exit $fail
