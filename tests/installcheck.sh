#!/bin/sh
# installcheck.sh - does an application build against the INSTALLED library
# with nothing but pkg-config, and do the installed programs work together?
# Run by `make installcheck` (and so by `make distcheck`).
# Usage: installcheck.sh SRCDIR BINDIR SBINDIR LIBDIR CC
set -eu
srcdir=$1 bindir=$2 sbindir=$3 libdir=$4 cc=$5

tmp=$(mktemp -d /tmp/esq-installcheck.XXXXXX)
shm="/esq-installcheck-$$"
daemon_pid=""
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	rm -f "/dev/shm$shm" "/dev/shm$shm.reg"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs liberrseq-client)
echo "installcheck: cc ... $flags"
# shellcheck disable=SC2086
$cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/producer" "$srcdir/examples/producer.c" $flags
# shellcheck disable=SC2086
$cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/watcher" "$srcdir/examples/watcher.c" $flags
# shellcheck disable=SC2086
$cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/epoll-watcher" "$srcdir/examples/epoll-watcher.c" $flags
# shellcheck disable=SC2086
$cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/libevent-watcher" "$srcdir/examples/libevent-watcher.c" $flags $(pkg-config --cflags --libs libevent)
# shellcheck disable=SC2086
$cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/supervisor" "$srcdir/examples/supervisor.c" $flags

export LD_LIBRARY_PATH="$libdir"
export ERRSEQD_SOCKET="$tmp/errseqd.sock"
"$sbindir/errseqd" --slots 1024 2>"$tmp/errseqd.log" &
daemon_pid=$!
i=0
while [ ! -S "$ERRSEQD_SOCKET" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "installcheck: errseqd did not start"; cat "$tmp/errseqd.log"; exit 1; }
	sleep 0.1
done

"$tmp/producer" disk0 EIO
out=$("$bindir/errseqctl" --json stat disk0)
echo "installcheck: $out"
case $out in
*'"errno_name":"EIO"'*|*'"errno_name": "EIO"'*) ;;
*) echo "installcheck: errseqctl stat did not show EIO"; exit 1 ;;
esac

# liberrseq-client.a, when installed (./configure --enable-static): the
# producer linked with pkg-config --static, first with the archive in place
# of -lerrseq-client (the C library stays shared), then wholly static.
# Neither may need liberrseq-client.so, so they run with the loader pointed
# nowhere.
if [ -f "$libdir/liberrseq-client.a" ]; then
	sflags=$(pkg-config --static --libs liberrseq-client)
	echo "installcheck: static: $sflags"
	# shellcheck disable=SC2086
	$cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/producer-a" \
		"$srcdir/examples/producer.c" $(pkg-config --cflags liberrseq-client) \
		$(echo "$sflags" | sed 's/-lerrseq-client/-l:liberrseq-client.a/')
	# glibc warns that getpwnam_r, linked statically, loads NSS modules
	# at run time: not an error
	# shellcheck disable=SC2086
	$cc -std=gnu11 -Wall -Wextra -Werror -static -o "$tmp/producer-static" \
		"$srcdir/examples/producer.c" \
		$(pkg-config --static --cflags liberrseq-client) $sflags \
		2>"$tmp/static-ld.log" || { cat "$tmp/static-ld.log"; exit 1; }
	for p in producer-a producer-static; do
		if command -v readelf >/dev/null 2>&1 &&
			readelf -d "$tmp/$p" | grep -q 'NEEDED.*liberrseq-client'; then
			echo "installcheck: $p needs liberrseq-client.so"; exit 1
		fi
		LD_LIBRARY_PATH=/nonexistent "$tmp/$p" "static/$p" ENOSPC
		out=$("$bindir/errseqctl" --json stat "static/$p")
		case $out in
		*'"errno_name":"ENOSPC"'*|*'"errno_name": "ENOSPC"'*) ;;
		*) echo "installcheck: $p did not record ENOSPC: $out"; exit 1 ;;
		esac
	done
	echo "installcheck: static: producer-a and producer-static OK"
else
	echo "installcheck: static: no liberrseq-client.a (configured without --enable-static)"
fi

# errseq-run finds the installed liberrseq-preload.so by itself: dd meets
# EFBIG (RLIMIT_FSIZE) under it, and the error lands in a dev/ slot.
unset ERRSEQ_PRELOAD_LIB
out=$(sh -c 'trap "" XFSZ; ulimit -f 1; exec "$1/errseq-run" -- dd if=/dev/zero of="$2/big" bs=4096 count=1 2>/dev/null' \
	sh "$bindir" "$tmp"; "$bindir/errseqctl" list 'dev/*')
echo "installcheck: $out"
case $out in
*dev/*EFBIG*) ;;
*) echo "installcheck: errseq-run did not record dd's EFBIG"; exit 1 ;;
esac
echo "installcheck: OK"
