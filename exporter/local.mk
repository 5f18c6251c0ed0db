# exporter/local.mk - errseq-exporter: a read-only HTTP client of errseqd
# for monitoring (Prometheus /metrics, JSON, a status page), its man page,
# systemd unit and example alerting rules.

bin_PROGRAMS += exporter/errseq-exporter
exporter_errseq_exporter_SOURCES = \
	exporter/errseq-exporter.c exporter/exporter.h \
	exporter/metrics.c exporter/page.c \
	ctl/listing.c ctl/listing.h ctl/format.c ctl/format.h
exporter_errseq_exporter_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBEVENT_EXTRA_CFLAGS)
exporter_errseq_exporter_LDADD = client/liberrseq-client.la \
	$(LIBEVENT_EXTRA_LIBS) $(LIBEVENT_LIBS)

man_MANS += man/errseq-exporter.1
EXTRA_DIST += man/errseq-exporter.1

# The unit, generated so that ExecStart names the configured $(bindir).
nodist_systemdsystemunit_DATA += systemd/errseq-exporter.service
systemd/errseq-exporter.service: systemd/errseq-exporter.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@bindir[@]|$(bindir)|g' \
		$(srcdir)/systemd/errseq-exporter.service.in > $@.tmp && \
	mv -f $@.tmp $@
CLEANFILES += systemd/errseq-exporter.service \
	systemd/errseq-exporter.service.tmp
EXTRA_DIST += systemd/errseq-exporter.service.in
EXTRA_DIST += examples/errseqd-alerts.yml
