# client/: liberrseq-client, the library producers and watchers link.
lib_LTLIBRARIES += client/liberrseq-client.la
client_liberrseq_client_la_SOURCES = \
	client/errseq.c \
	client/slot.c \
	client/handles.c \
	client/cursor.c \
	client/watch.c \
	client/client.c \
	client/conn.c \
	client/proc.c \
	client/strerror.c \
	client/errnames.c \
	client/internal.h
client_liberrseq_client_la_CFLAGS = $(AM_CFLAGS) -pthread -fvisibility=hidden \
	-fno-semantic-interposition
client_liberrseq_client_la_LDFLAGS = $(AM_LDFLAGS) -pthread \
	-version-info $(LIBERRSEQ_CLIENT_LT_VERSION) -no-undefined \
	-Wl,--version-script=$(srcdir)/client/liberrseq-client.sym
client_liberrseq_client_la_LIBADD = common/libcommon.la
EXTRA_client_liberrseq_client_la_DEPENDENCIES = client/liberrseq-client.sym

errseqincludedir = $(includedir)/errseq
errseqinclude_HEADERS = include/errseq/errseq.h include/errseq/client.h

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = client/liberrseq-client.pc
EXTRA_DIST += client/liberrseq-client.sym client/liberrseq-client.pc.in
DISTCLEANFILES += client/liberrseq-client.pc

man_MANS += man/liberrseq-client.3
EXTRA_DIST += man/liberrseq-client.3

# Its tests (tests/client/) are registered in tests/local.mk.

# Only errseq_* may leave the library: checked with nm -D.
TESTS += client/test-exports.sh
EXTRA_DIST += client/test-exports.sh
