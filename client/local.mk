# client/: liberrseq-client, the library producers and watchers link.
lib_LTLIBRARIES += client/liberrseq-client.la
client_liberrseq_client_la_SOURCES = \
	client/errseq.c
client_liberrseq_client_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
client_liberrseq_client_la_LDFLAGS = $(AM_LDFLAGS) \
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
