# tests/installcheck.mk - `make installcheck` (and distcheck): build the
# examples against the installed library with pkg-config alone, and run them
# with the installed daemon and CLI.
EXTRA_DIST += tests/installcheck.sh
installcheck-local:
	$(SHELL) $(srcdir)/tests/installcheck.sh '$(abs_top_srcdir)' \
		'$(DESTDIR)$(bindir)' '$(DESTDIR)$(sbindir)' \
		'$(DESTDIR)$(libdir)' '$(CC)'
