#!/bin/sh
# bootstrap.sh - shared by run.sh and test.sh: make sure the Debian packages
# the build needs are present, then configure and build out of tree.
#
# Environment:
#   ERRSEQ_BUILD_DIR        build directory (default: build)
#   ERRSEQ_CONFIGURE_FLAGS  extra ./configure flags (e.g. --enable-werror)
#   ERRSEQ_EXTRA_PACKAGES   more Debian packages to require
# As root, missing packages are installed with apt-get; otherwise the exact
# apt-get line is printed and the script stops.

set -eu

# The caller (run.sh or test.sh, at the top of the tree) sets $top.
: "${top:?run.sh and test.sh set top before sourcing bootstrap.sh}"
build_dir=${ERRSEQ_BUILD_DIR:-build}
case $build_dir in /*) ;; *) build_dir="$top/$build_dir" ;; esac

need_packages() {
	missing=""
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -eq 0 ]; then
		echo "bootstrap: installing:$missing" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing >&2
	else
		echo "bootstrap: missing build packages. Run this, then try again:" >&2
		echo "  sudo apt-get install -y$missing" >&2
		exit 1
	fi
}

# What the build itself needs.
BUILD_PACKAGES="gcc make autoconf automake libtool pkg-config libevent-dev check libncurses-dev"

build() {
	if [ ! -x "$top/configure" ]; then
		(cd "$top" && ./autogen.sh) >&2
	fi
	mkdir -p "$build_dir"
	cd "$build_dir"
	if [ ! -f Makefile ]; then
		# shellcheck disable=SC2086
		"$top/configure" ${ERRSEQ_CONFIGURE_FLAGS:-} >&2
	fi
	make -j"$(nproc)" >&2
}
