#!/bin/sh
# systemd-verify.sh - check errseqd's systemd units and sysusers/tmpfiles
# entries with systemd's own tools.
#
# 1. `systemd-analyze verify` on the GENERATED errseqd.service (ExecStart
#    rewritten to the built daemon, so verify can check that it exists and
#    is executable) and errseqd.socket.  Any output line fails the test,
#    warnings included.
# 2. When systemd-sysusers and systemd-tmpfiles exist: apply the sysusers.d
#    and tmpfiles.d entries under a temporary --root and check that user,
#    group and /run/errseqd come out as intended (any output fails too).
#
# Exit 77 (skip) when systemd-analyze is missing.  Uses $ERRSEQD_BIN,
# $ERRSEQ_TOP_SRCDIR and $ERRSEQ_TOP_BUILDDIR from `make check`.
set -u

analyze=$(command -v systemd-analyze 2>/dev/null) || {
	echo "SKIP: systemd-analyze not found"
	exit 77
}

srcdir=${ERRSEQ_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${ERRSEQ_TOP_BUILDDIR:-.}
bin=${ERRSEQD_BIN:-$builddir/daemon/errseqd}

fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/errseqd-verify.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

service=$builddir/systemd/errseqd.service
if [ ! -f "$service" ]; then
	echo "FAIL: $service not generated (run make first)"
	exit 1
fi
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin not built"
	exit 1
fi
case $bin in
/*) ;;
*) bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") ;;
esac

# The generated unit must carry no unsubstituted @var@ left over.
if grep -n '@[a-z_]*@' "$service"; then
	echo "FAIL: unsubstituted variables in $service"
	fail=1
fi

# A test copy whose ExecStart names the built binary.
mkdir "$tmp/units"
sed -e "s|^ExecStart=[^ ]*/errseqd |ExecStart=$bin |" "$service" \
	> "$tmp/units/errseqd.service"
cp "$srcdir/systemd/errseqd.socket" "$tmp/units/errseqd.socket"
if ! grep -q "^ExecStart=$bin " "$tmp/units/errseqd.service"; then
	echo "FAIL: could not point ExecStart at $bin"
	fail=1
fi

# --man=no: the man page is not installed at test time (its source is
# checked below instead).  SYSTEMD_LOG_LEVEL=notice keeps info chatter out;
# warnings and errors still print, and any printed line fails the test.
out=$(cd "$tmp/units" && SYSTEMD_LOG_LEVEL=notice SYSTEMD_PAGER= \
	"$analyze" verify --man=no errseqd.service errseqd.socket 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify (exit $rc):"
	printf '%s\n' "$out"
	fail=1
else
	echo "PASS: systemd-analyze verify errseqd.service errseqd.socket"
fi

# The man page that Documentation= names exists and is listed.
if [ ! -f "$srcdir/man/errseqd.8" ]; then
	echo "FAIL: man/errseqd.8 missing (Documentation=man:errseqd(8))"
	fail=1
fi

# The settings the daemon's correctness depends on, which verify cannot
# know about: the segments must outlive a stop and stay visible to clients.
for want in 'Type=notify' 'RemoveIPC=no' 'RuntimeDirectoryPreserve=yes' \
	    'User=errseqd' 'Group=errseqd'; do
	grep -qx "$want" "$tmp/units/errseqd.service" || {
		echo "FAIL: errseqd.service lacks $want"
		fail=1
	}
done
for bad in 'DynamicUser=yes' 'PrivateIPC=yes' 'RemoveIPC=yes'; do
	if grep -qx "$bad" "$tmp/units/errseqd.service"; then
		echo "FAIL: errseqd.service has $bad (would hide or remove the segment)"
		fail=1
	fi
done

# sysusers.d and tmpfiles.d, applied to an empty root.
sysusers=$(command -v systemd-sysusers 2>/dev/null)
tmpfiles=$(command -v systemd-tmpfiles 2>/dev/null)
if [ -n "$sysusers" ] && [ -n "$tmpfiles" ] && [ "$(id -u)" = 0 ]; then
	root=$tmp/root
	mkdir -p "$root/etc" "$root/run"
	out=$(SYSTEMD_LOG_LEVEL=notice "$sysusers" --root="$root" \
		"$srcdir/systemd/sysusers.d/errseqd.conf" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$out" ] ||
	   ! grep -q '^errseqd:' "$root/etc/passwd" ||
	   ! grep -q '^errseqd:' "$root/etc/group"; then
		echo "FAIL: systemd-sysusers (exit $rc):"
		printf '%s\n' "$out"
		fail=1
	else
		echo "PASS: systemd-sysusers creates user and group errseqd"
	fi
	out=$(SYSTEMD_LOG_LEVEL=notice "$tmpfiles" --root="$root" --create \
		"$srcdir/systemd/tmpfiles.d/errseqd.conf" 2>&1)
	rc=$?
	uid=$(awk -F: '$1 == "errseqd" { print $3 }' "$root/etc/passwd")
	gid=$(awk -F: '$1 == "errseqd" { print $3 }' "$root/etc/group")
	got=$(stat -c '%a %u %g' "$root/run/errseqd" 2>&1)
	if [ $rc -ne 0 ] || [ -n "$out" ] || [ "$got" != "755 $uid $gid" ]; then
		echo "FAIL: systemd-tmpfiles (exit $rc): $out; /run/errseqd: $got"
		fail=1
	else
		echo "PASS: systemd-tmpfiles creates /run/errseqd 0755 errseqd:errseqd"
	fi
else
	echo "note: sysusers/tmpfiles check skipped (needs root and both tools)"
fi

exit $fail
