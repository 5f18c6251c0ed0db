# systemd/local.mk - systemd units, sysusers.d and tmpfiles.d entries for
# errseqd, their verification test, and the errseqd(8) man page.
#
# errseqd.service is generated from its .in at build time so that ExecStart
# names the configured $(sbindir).  The directories come from configure
# (--with-systemdsystemunitdir, --with-sysusersdir, --with-tmpfilesdir);
# distcheck keeps them under its $(prefix).

nodist_systemdsystemunit_DATA = systemd/errseqd.service
dist_systemdsystemunit_DATA = systemd/errseqd.socket
dist_sysusers_DATA = systemd/sysusers.d/errseqd.conf
dist_tmpfiles_DATA = systemd/tmpfiles.d/errseqd.conf

systemd/errseqd.service: systemd/errseqd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' \
		$(srcdir)/systemd/errseqd.service.in > $@.tmp && \
	mv -f $@.tmp $@

CLEANFILES += systemd/errseqd.service systemd/errseqd.service.tmp
EXTRA_DIST += systemd/errseqd.service.in

# `systemd-analyze verify` on the generated units (skips without systemd).
TESTS += tests/systemd-verify.sh
EXTRA_DIST += tests/systemd-verify.sh

# errseqd(8)
man_MANS += man/errseqd.8
EXTRA_DIST += man/errseqd.8

