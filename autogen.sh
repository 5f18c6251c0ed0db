#!/bin/sh
# autogen.sh - generate ./configure and the Makefile templates from a checkout.
set -e
cd "$(dirname "$0")"
mkdir -p m4
exec autoreconf --install --force --warnings=all
