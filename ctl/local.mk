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
