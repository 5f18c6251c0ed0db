/*
 * supervisor.c - log every new write-back error that programs run under
 * errseq-run (or linked with liberrseq-client) record in the per-device
 * slots, dev/MAJ:MIN, with the device and the pid that met it.
 *
 *     supervisor [--prefix PREFIX] [--count N]
 *
 * There is no glob watch: every second the supervisor lists the slots
 * (errseq_list) and opens, with a cursor of its own, each new one whose
 * name starts with PREFIX (default "dev/").  Every 100 ms it checks its
 * cursors (a lock-free read each); each new error is reported once, with
 * the slot's last pid (errseq_stat).  Slots that are deleted are
 * forgotten; while the daemon is away the supervisor waits for it.
 * --count N: exit after N reports (for tests).
 * Build: cc supervisor.c $(pkg-config --cflags --libs liberrseq-client).
 *
 * Built with ERRSEQ_INLINE: errseq_cursor_check is compiled in here (one
 * load and two compares per cursor when nothing happened), and the opens
 * check that the library keeps the inline ABI this was built for
 * (liberrseq-client(3), "The inline fast path").
 */
#define _GNU_SOURCE
#define ERRSEQ_INLINE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <errseq/client.h>

#define MAX_WATCHED 1024

struct watched {
	struct errseq_slot *slot;
	struct errseq_cursor *cursor;
};

static struct watched watched[MAX_WATCHED];
static size_t nwatched;

static int is_watched(const char *name)
{
	for (size_t i = 0; i < nwatched; i++)
		if (strcmp(errseq_slot_name(watched[i].slot), name) == 0)
			return 1;
	return 0;
}

/* Open every listed slot under @prefix that is not watched yet. */
static void discover(struct errseq_client *c, const char *prefix)
{
	struct errseq_slot_info info[64];
	uint32_t pos = 0;
	int n;

	while ((n = errseq_list(c, &pos, info, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			struct watched w;

			if (strncmp(info[i].name, prefix, strlen(prefix)) != 0 ||
			    is_watched(info[i].name) || nwatched == MAX_WATCHED)
				continue;
			if (errseq_slot_open(c, info[i].name, 0, &w.slot) < 0)
				continue;	/* deleted meanwhile */
			if (errseq_cursor_new(w.slot, &w.cursor) < 0) {
				errseq_slot_close(w.slot);
				continue;
			}
			watched[nwatched++] = w;
			printf("watching %s\n", info[i].name);
			fflush(stdout);
		}
		if (pos == ERRSEQ_LIST_END)
			break;
	}
}

static void report(struct errseq_client *c, const char *name, int err)
{
	struct errseq_slot_info info;
	char when[32];
	time_t now = time(NULL);
	long pid = 0;

	if (errseq_stat(c, name, &info) == 0)
		pid = (long)info.last_pid;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
	/* "dev/8:1" names the device; other prefixes are printed as is. */
	printf("%s write-back error on %s%s: %s (errno %d), met by pid %ld\n",
	       when, strncmp(name, "dev/", 4) == 0 ? "device " : "slot ",
	       strncmp(name, "dev/", 4) == 0 ? name + 4 : name,
	       errseq_strerror(err), -err, pid);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *prefix = "dev/";
	struct errseq_client *c;
	long count = -1;
	unsigned tick = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
			prefix = argv[++i];
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			count = strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: %s [--prefix PREFIX] "
				"[--count N]\n", argv[0]);
			return 2;
		}
	}

	r = errseq_client_open(NULL, &c);
	if (r < 0) {
		fprintf(stderr, "cannot connect to errseqd: %s\n",
			errseq_strerror(r));
		return 1;
	}
	for (;;) {
		if (tick++ % 10 == 0)
			discover(c, prefix);
		for (size_t i = 0; i < nwatched; i++) {
			/* 0: nothing new; -errno: a new error, told once. */
			r = errseq_cursor_check(watched[i].cursor);
			if (r == ERRSEQ_ESTALE) {
				/* Deleted (or a new segment): forget it; the
				 * next listing finds it again if it exists. */
				errseq_slot_close(watched[i].slot);
				watched[i--] = watched[--nwatched];
				continue;
			}
			if (r < 0) {
				report(c, errseq_slot_name(watched[i].slot), r);
				if (count > 0 && --count == 0) {
					errseq_client_close(c);
					return 0;
				}
			}
		}
		usleep(100 * 1000);
	}
}
