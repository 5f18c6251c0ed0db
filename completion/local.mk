# completion/local.mk - bash completion for errseqctl, and its test.

# Installed in $(bashcompletiondir): configure's --with-bashcompletiondir,
# else bash-completion's completionsdir if it lies under $prefix, else
# $(datadir)/bash-completion/completions.  distcheck keeps it under its
# own prefix.
dist_bashcompletion_DATA = completion/errseqctl
AM_DISTCHECK_CONFIGURE_FLAGS += \
	--with-bashcompletiondir='$$(prefix)/share/bash-completion/completions'

# tests/test_completion: sources the completion in a real bash and checks
# COMPREPLY against a real errseqd.  Skips (77) without bash.
check_PROGRAMS += tests/test_completion
TESTS += tests/test_completion
tests_test_completion_SOURCES = tests/test_completion.c
tests_test_completion_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCOMPLETION_TEST_TOP_SRCDIR='"$(abs_top_srcdir)"'
tests_test_completion_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_completion_LDADD = tests/support/libharness.la \
	client/liberrseq-client.la common/libcommon.la $(CHECK_LIBS)
