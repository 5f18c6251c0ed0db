# ctl/local.mk - errseqctl and its man page.

bin_PROGRAMS += ctl/errseqctl
ctl_errseqctl_SOURCES = \
	ctl/errseqctl.c ctl/ctl.h \
	ctl/show.c ctl/watch.c \
	ctl/format.c ctl/format.h ctl/listing.c ctl/listing.h
ctl_errseqctl_LDADD = client/liberrseq-client.la common/libcommon.la

man_MANS += man/errseqctl.1
EXTRA_DIST += man/errseqctl.1

# Its tests (tests/ctl/) are registered in tests/local.mk.

# errseqctl top (ctl/top.c): ncurses, kept in a convenience library so that
# only top.c is built with ncurses' flags.  Pure helpers in ctl/topfmt.c.
noinst_LTLIBRARIES += ctl/libtop.la
ctl_libtop_la_SOURCES = ctl/top.c ctl/topfmt.c ctl/topfmt.h
ctl_libtop_la_CPPFLAGS = $(AM_CPPFLAGS) $(NCURSES_CFLAGS)
ctl_errseqctl_LDADD += ctl/libtop.la $(NCURSES_LIBS)

# tests/test_top: errseqctl top in tmux (send-keys, capture-pane) against a
# real errseqd, its plain snapshot, and ctl/topfmt.c on its own.  Skips
# (77) without tmux.
check_PROGRAMS += tests/test_top
TESTS += tests/test_top
tests_test_top_SOURCES = tests/test_top.c ctl/topfmt.c ctl/topfmt.h \
	ctl/format.c ctl/format.h
tests_test_top_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_top_LDADD = tests/support/libharness.la client/liberrseq-client.la \
	common/libcommon.la $(CHECK_LIBS)
