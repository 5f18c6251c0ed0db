#!/bin/sh
# test-exports.sh - liberrseq-client must export exactly the errseq_*
# functions listed in client/liberrseq-client.sym, and nothing else.
set -u
top_build=${ERRSEQ_TOP_BUILDDIR:-.}
top_src=${ERRSEQ_TOP_SRCDIR:-.}
lib=$top_build/client/.libs/liberrseq-client.so
sym=$top_src/client/liberrseq-client.sym
if [ ! -f "$lib" ]; then
	echo "test-exports: $lib not found"
	exit 99
fi
command -v nm >/dev/null 2>&1 || { echo "test-exports: no nm"; exit 77; }

exported=$(nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' |
	sed 's/@.*//' | sort -u)
wanted=$(sed -n 's/^[[:space:]]*\(errseq_[a-z_]*\);.*/\1/p' "$sym" | sort -u)

fail=0
for s in $exported; do
	case $s in
	errseq_*) ;;
	*) echo "test-exports: unexpected export: $s"; fail=1 ;;
	esac
done
if [ "$exported" != "$wanted" ]; then
	echo "test-exports: exports differ from $sym:"
	printf '%s\n' "$exported" > exports.got.$$
	printf '%s\n' "$wanted" > exports.want.$$
	diff exports.want.$$ exports.got.$$
	rm -f exports.got.$$ exports.want.$$
	fail=1
fi
[ "$fail" = 0 ] && echo "test-exports: $(echo "$exported" | wc -l) errseq_* symbols, nothing else"

# liberrseq-client.a (--enable-static) has no version script: its internal
# functions stay global, so they must keep to the library's prefixes
# (errseq__ and esd_) and never take a name a program might use.  Every
# exported function must be in it too.
a=$top_build/client/.libs/liberrseq-client.a
if [ -f "$a" ]; then
	globals=$(nm -g --defined-only "$a" | awk 'NF == 3 { print $3 }' | sort -u)
	for s in $globals; do
		case $s in
		errseq_*|esd_*) ;;
		__odr_asan.*|__asan_*|__ubsan_*) ;;	# a sanitizer build's own
		*) echo "test-exports: liberrseq-client.a defines $s"; fail=1 ;;
		esac
	done
	for s in $wanted; do
		echo "$globals" | grep -qx "$s" ||
			{ echo "test-exports: liberrseq-client.a lacks $s"; fail=1; }
	done
	[ "$fail" = 0 ] && echo "test-exports: liberrseq-client.a: $(echo "$globals" | wc -l) global symbols, all errseq_* or esd_* (or a sanitizer's own)"
fi
exit $fail
