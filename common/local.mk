# common/: code shared by the daemon, the library and the CLI; never installed.
noinst_LTLIBRARIES += common/libcommon.la
common_libcommon_la_SOURCES = \
	common/common.c common/common.h \
	common/errseq_word.h common/shm_layout.h common/protocol.h \
	common/visibility.h
common_libcommon_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
