# tests/local.mk - the Check test programs, and the support code they share.
#
# One program per area (tests/<part>/test_<area>.c), so that `make -j`
# runs them in parallel.  Every program is registered the same way: listed
# in its part's *_TESTS variable (which feeds check_PROGRAMS and TESTS),
# with _SOURCES, _CFLAGS and _LDADD lines built from that part's
# variables.  A program whose precondition is missing (root, a raisable
# file-descriptor limit) exits 77 and says why, so it counts as SKIP, never
# as PASS.
#
# tests/support/ holds what the programs (and bench/, fuzz/ and the
# reliability suite) share: the harness that starts the real errseqd on a
# temporary socket and shm name, a raw protocol client, and the Check
# fixtures and helpers of each part.

# ---- support ----
noinst_LTLIBRARIES += tests/support/libharness.la
tests_support_libharness_la_SOURCES = tests/support/harness.c \
	tests/support/harness.h

# A raw protocol client (also used by the fuzz and reliability suites).
noinst_LTLIBRARIES += tests/support/librawclient.la
tests_support_librawclient_la_SOURCES = tests/support/rawclient.c \
	tests/support/rawclient.h

noinst_LTLIBRARIES += tests/support/libdaemon_util.la
tests_support_libdaemon_util_la_SOURCES = tests/support/daemon_util.c \
	tests/support/daemon_util.h
tests_support_libdaemon_util_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

noinst_LTLIBRARIES += tests/support/libclient_util.la
tests_support_libclient_util_la_SOURCES = tests/support/client_util.c \
	tests/support/client_util.h
tests_support_libclient_util_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread

noinst_LTLIBRARIES += tests/support/libctl_util.la
tests_support_libctl_util_la_SOURCES = tests/support/ctl_util.c \
	tests/support/ctl_util.h
tests_support_libctl_util_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCTL_TEST_TOP_SRCDIR='"$(abs_top_srcdir)"'
tests_support_libctl_util_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
EXTRA_DIST += tests/json_check.py

# ---- the errseq core (client/errseq.c), through the public API only ----
ERRSEQ_TESTS = tests/test_errseq
check_PROGRAMS += $(ERRSEQ_TESTS)
TESTS += $(ERRSEQ_TESTS)
tests_test_errseq_SOURCES = tests/test_errseq.c
tests_test_errseq_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_errseq_LDADD = client/liberrseq-client.la $(CHECK_LIBS)

# ---- errseqd through the raw client: the real daemon ($ERRSEQD_BIN) ----

DAEMON_TESTS = \
	tests/daemon/test_protocol \
	tests/daemon/test_lifecycle \
	tests/daemon/test_limits \
	tests/daemon/test_robustness \
	tests/daemon/test_restart \
	tests/daemon/test_cli \
	tests/daemon/test_activation \
	tests/daemon/test_permissions \
	tests/daemon/test_oplog \
	tests/daemon/test_1000_clients
check_PROGRAMS += $(DAEMON_TESTS)
TESTS += $(DAEMON_TESTS)
DAEMON_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
DAEMON_TEST_LDADD = tests/support/libdaemon_util.la \
	tests/support/libharness.la tests/support/librawclient.la \
	common/libcommon.la $(CHECK_LIBS)

tests_daemon_test_protocol_SOURCES = tests/daemon/test_protocol.c
tests_daemon_test_protocol_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_protocol_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_lifecycle_SOURCES = tests/daemon/test_lifecycle.c
tests_daemon_test_lifecycle_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_lifecycle_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_limits_SOURCES = tests/daemon/test_limits.c
tests_daemon_test_limits_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_limits_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_robustness_SOURCES = tests/daemon/test_robustness.c
tests_daemon_test_robustness_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_robustness_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_restart_SOURCES = tests/daemon/test_restart.c
tests_daemon_test_restart_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_restart_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_cli_SOURCES = tests/daemon/test_cli.c
tests_daemon_test_cli_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_cli_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_activation_SOURCES = tests/daemon/test_activation.c
tests_daemon_test_activation_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_activation_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_permissions_SOURCES = tests/daemon/test_permissions.c
tests_daemon_test_permissions_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_permissions_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_oplog_SOURCES = tests/daemon/test_oplog.c
tests_daemon_test_oplog_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_oplog_LDADD = $(DAEMON_TEST_LDADD)

tests_daemon_test_1000_clients_SOURCES = tests/daemon/test_1000_clients.c
tests_daemon_test_1000_clients_CFLAGS = $(DAEMON_TEST_CFLAGS)
tests_daemon_test_1000_clients_LDADD = $(DAEMON_TEST_LDADD)

# ---- liberrseq-client, against the real daemon ----

CLIENT_TESTS = \
	tests/client/test_local \
	tests/client/test_api \
	tests/client/test_waiting \
	tests/client/test_fork \
	tests/client/test_reconnect \
	tests/client/test_permissions \
	tests/client/test_watch \
	tests/client/test_errnames \
	tests/client/test_env \
	tests/client/test_inline
check_PROGRAMS += $(CLIENT_TESTS)
TESTS += $(CLIENT_TESTS)
CLIENT_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread
CLIENT_TEST_LDADD = tests/support/libclient_util.la \
	tests/support/librawclient.la \
	tests/support/libharness.la client/liberrseq-client.la \
	common/libcommon.la $(CHECK_LIBS) -lpthread

tests_client_test_local_SOURCES = tests/client/test_local.c
tests_client_test_local_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_local_LDADD = $(CLIENT_TEST_LDADD)

tests_client_test_api_SOURCES = tests/client/test_api.c
tests_client_test_api_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_api_LDADD = $(CLIENT_TEST_LDADD)

tests_client_test_waiting_SOURCES = tests/client/test_waiting.c
tests_client_test_waiting_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_waiting_LDADD = $(CLIENT_TEST_LDADD)

tests_client_test_fork_SOURCES = tests/client/test_fork.c
tests_client_test_fork_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_fork_LDADD = $(CLIENT_TEST_LDADD)

tests_client_test_watch_SOURCES = tests/client/test_watch.c
tests_client_test_watch_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_watch_LDADD = tests/support/libharness.la \
	client/liberrseq-client.la common/libcommon.la $(CHECK_LIBS) -lpthread

tests_client_test_reconnect_SOURCES = tests/client/test_reconnect.c
tests_client_test_reconnect_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_reconnect_LDADD = $(CLIENT_TEST_LDADD)

tests_client_test_permissions_SOURCES = tests/client/test_permissions.c
tests_client_test_permissions_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_permissions_LDADD = $(CLIENT_TEST_LDADD)

# linked with its rpath (-no-install), so that a setuid copy finds the
# library (the dynamic loader ignores LD_LIBRARY_PATH for it)
tests_client_test_env_SOURCES = tests/client/test_env.c
tests_client_test_env_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_env_LDFLAGS = $(AM_LDFLAGS) -no-install
tests_client_test_env_LDADD = client/liberrseq-client.la $(CHECK_LIBS)

# the two event-loop examples (examples/), run against a private daemon
TESTS += tests/client/examples.sh
EXTRA_DIST += tests/client/examples.sh

# built with ERRSEQ_INLINE (defined in the file): the header's inline checks
tests_client_test_inline_SOURCES = tests/client/test_inline.c
tests_client_test_inline_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_inline_LDADD = $(CLIENT_TEST_LDADD)

tests_client_test_errnames_SOURCES = tests/client/test_errnames.c
tests_client_test_errnames_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_errnames_LDADD = $(CLIENT_TEST_LDADD)

# liberrseq-client.a (./configure --enable-static): this program links the
# static library (libtool's -static: no uninstalled .so) and runs against a
# real daemon; built without it, it skips (77) and says why.
check_PROGRAMS += tests/client/test_static
TESTS += tests/client/test_static
tests_client_test_static_SOURCES = tests/client/test_static.c
tests_client_test_static_CFLAGS = $(CLIENT_TEST_CFLAGS)
tests_client_test_static_LDADD = $(CLIENT_TEST_LDADD) -ldl
tests_client_test_static_CPPFLAGS = $(AM_CPPFLAGS) $(TEST_STATIC_DEFS)
tests_client_test_static_LDFLAGS = $(AM_LDFLAGS) $(TEST_STATIC_LINK)
if ENABLE_STATIC
TEST_STATIC_DEFS = -DESQ_TEST_STATIC=1
TEST_STATIC_LINK = -static
endif

# ---- errseqctl ($ERRSEQCTL_BIN) against the real daemon, and ctl/format.c ----

CTL_TESTS = \
	tests/ctl/test_format \
	tests/ctl/test_cmdline \
	tests/ctl/test_commands \
	tests/ctl/test_output \
	tests/ctl/test_json \
	tests/ctl/test_watch
check_PROGRAMS += $(CTL_TESTS)
TESTS += $(CTL_TESTS)
CTL_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
CTL_TEST_LDADD = tests/support/libctl_util.la \
	tests/support/libharness.la client/liberrseq-client.la \
	common/libcommon.la $(CHECK_LIBS)

tests_ctl_test_format_SOURCES = tests/ctl/test_format.c ctl/format.c \
	ctl/format.h
tests_ctl_test_format_CFLAGS = $(CTL_TEST_CFLAGS)
tests_ctl_test_format_LDADD = $(CTL_TEST_LDADD)

tests_ctl_test_cmdline_SOURCES = tests/ctl/test_cmdline.c
tests_ctl_test_cmdline_CFLAGS = $(CTL_TEST_CFLAGS)
tests_ctl_test_cmdline_LDADD = $(CTL_TEST_LDADD)

tests_ctl_test_commands_SOURCES = tests/ctl/test_commands.c
tests_ctl_test_commands_CFLAGS = $(CTL_TEST_CFLAGS)
tests_ctl_test_commands_LDADD = $(CTL_TEST_LDADD)

tests_ctl_test_output_SOURCES = tests/ctl/test_output.c
tests_ctl_test_output_CFLAGS = $(CTL_TEST_CFLAGS)
tests_ctl_test_output_LDADD = $(CTL_TEST_LDADD)

tests_ctl_test_json_SOURCES = tests/ctl/test_json.c
tests_ctl_test_json_CFLAGS = $(CTL_TEST_CFLAGS)
tests_ctl_test_json_LDADD = $(CTL_TEST_LDADD)

tests_ctl_test_watch_SOURCES = tests/ctl/test_watch.c
tests_ctl_test_watch_CFLAGS = $(CTL_TEST_CFLAGS)
tests_ctl_test_watch_LDADD = $(CTL_TEST_LDADD)

# The daemon's state (registry, free lists, repair, holds, quota), linked
# against libesd directly: no daemon, no socket.
check_PROGRAMS += tests/daemon/test_state
TESTS += tests/daemon/test_state
tests_daemon_test_state_SOURCES = tests/daemon/test_state.c
tests_daemon_test_state_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_daemon_test_state_LDADD = daemon/libesd.la common/libcommon.la \
	$(LIBEVENT_LIBS) $(CHECK_LIBS)

# --persist fdstore across kill -9, with this test playing systemd's part.
TESTS += tests/fdstore.py
EXTRA_DIST += tests/fdstore.py

# Least privilege (issue 9): hostile clients of other uids against the
# real daemon (tests/support/harness.h).  Needs root; skips (77) otherwise.
check_PROGRAMS += tests/test_security
TESTS += tests/test_security
tests_test_security_SOURCES = tests/test_security.c
tests_test_security_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_security_LDADD = tests/support/libharness.la client/liberrseq-client.la \
	$(CHECK_LIBS) -lpthread
