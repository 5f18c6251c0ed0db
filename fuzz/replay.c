/*
 * replay.c - replay the fuzz corpus through fuzz_request.c without libFuzzer.
 *
 *   replay_request                 replay $ERRSEQ_TOP_SRCDIR/fuzz/corpus and
 *                                  fuzz/regressions (default: the source
 *                                  tree this was built from), each file
 *                                  plus deterministic mutations of it
 *   replay_request PATH...         replay these files or directories
 *   replay_request --write-seeds DIR
 *                                  write the seed corpus (one valid message
 *                                  of every op, and a few near misses)
 *
 * It is in TESTS, so every committed seed and every crash that the fuzzer
 * ever found (saved in fuzz/regressions/) is checked by `make check` with
 * the ordinary compiler and, in CI, under ASan and UBSan.  Any
 * disagreement or crash aborts the program, failing the test.
 * $ESDR_MUTATIONS sets the mutations per file (default 300).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/protocol.h"
#include "fuzz/fuzz_request.h"

static unsigned long files, inputs;

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Run @buf and @mutations deterministic mutants of it. */
static void run_one(const uint8_t *buf, size_t len, long mutations)
{
	static uint8_t mut[ESP_MAX_MSG + 64];

	LLVMFuzzerTestOneInput(buf, len);
	inputs++;
	for (long m = 0; m < mutations; m++) {
		size_t n = len;

		memcpy(mut, buf, len);
		switch (next_rand() % 5) {
		case 0:		/* flip 1..4 bytes */
			for (int k = 1 + (int)(next_rand() % 4); k > 0 && n; k--)
				mut[next_rand() % n] ^=
					(uint8_t)(1u << (next_rand() % 8));
			break;
		case 1:		/* truncate */
			n = n ? (size_t)(next_rand() % n) : 0;
			break;
		case 2:		/* extend with random bytes */
			for (int k = 1 + (int)(next_rand() % 16);
			     k > 0 && n < sizeof(mut); k--)
				mut[n++] = (uint8_t)next_rand();
			break;
		case 3:		/* a random byte anywhere */
			if (n)
				mut[next_rand() % n] = (uint8_t)next_rand();
			break;
		default:	/* a random 32-bit field after the header */
			if (n >= 20) {
				size_t off = 16 + 4 * (next_rand() % ((n - 16) / 4));
				uint32_t v = (uint32_t)next_rand();

				if (next_rand() % 2)
					v %= 300;
				memcpy(mut + off, &v, sizeof(v));
			}
			break;
		}
		LLVMFuzzerTestOneInput(mut, n);
		inputs++;
	}
}

static int replay_file(const char *path, long mutations)
{
	static uint8_t buf[ESP_MAX_MSG + 64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	files++;
	run_one(buf, (size_t)n, mutations);
	return 0;
}

static int replay_path(const char *path, long mutations, int must_exist)
{
	struct stat st;
	DIR *dp;
	struct dirent *de;
	int rc = 0;

	if (stat(path, &st) < 0) {
		if (!must_exist && errno == ENOENT)
			return 0;
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, mutations);
	dp = opendir(path);
	if (!dp) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		char sub[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (replay_file(sub, mutations) < 0)
			rc = -1;
	}
	closedir(dp);
	return rc;
}

/* ---- the seed corpus ---- */

static int write_seed(const char *dir, const char *name, const void *buf,
		      size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wbe");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "replay: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

static void hdr(struct esp_hdr *h, uint16_t op, uint32_t seq)
{
	h->magic = ESP_MAGIC;
	h->version = ESP_VERSION;
	h->op = op;
	h->seq = seq;
	h->status = 0;
}

static void name_req(struct esp_name_req *q, uint16_t op, uint32_t flags,
		     const char *name)
{
	memset(q, 0, sizeof(*q));
	hdr(&q->hdr, op, 7);
	q->flags = flags;
	q->name_len = (uint32_t)strlen(name);
	memcpy(q->name, name, q->name_len);
}

static int write_seeds(const char *dir)
{
	struct esp_hello_req hello;
	struct esp_name_req nq;
	struct esp_slot_req sq;
	struct esp_list_req lq;
	struct esp_hdr st;
	struct esp_reattach_req rq;
	struct esp_seen_req eq;
	struct esp_arm_req aq;
	char longname[ESD_NAME_MAX + 1];
	int rc = 0;

	memset(longname, 'a', ESD_NAME_MAX);
	longname[ESD_NAME_MAX] = '\0';

	memset(&hello, 0, sizeof(hello));
	hdr(&hello.hdr, ESP_OP_HELLO, 1);
	hello.min_version = ESP_VERSION;
	hello.max_version = ESP_VERSION;
	rc |= write_seed(dir, "hello", &hello, sizeof(hello));
	hello.max_version = 7;
	rc |= write_seed(dir, "hello-range", &hello, sizeof(hello));

	name_req(&nq, ESP_OP_OPEN, 0, "disk0/errors");
	rc |= write_seed(dir, "open", &nq, sizeof(nq));
	name_req(&nq, ESP_OP_OPEN, ESP_OPEN_CREATE, "a.b:c@d-e_f");
	rc |= write_seed(dir, "open-create", &nq, sizeof(nq));
	name_req(&nq, ESP_OP_OPEN, ESP_OPEN_CREATE | ESP_OPEN_EXCL, longname);
	rc |= write_seed(dir, "open-create-excl-long", &nq, sizeof(nq));
	name_req(&nq, ESP_OP_OPEN, ESP_OPEN_CREATE | ESP_OPEN_GROUP, "grp");
	nq.gid = 100;
	rc |= write_seed(dir, "open-create-group", &nq, sizeof(nq));
	name_req(&nq, ESP_OP_UNLINK, 0, "x");
	rc |= write_seed(dir, "unlink", &nq, sizeof(nq));
	name_req(&nq, ESP_OP_STAT, 0, "stat/me");
	rc |= write_seed(dir, "stat", &nq, sizeof(nq));
	name_req(&nq, ESP_OP_STAT, 0, "bad name");
	rc |= write_seed(dir, "stat-badname", &nq, sizeof(nq));

	memset(&sq, 0, sizeof(sq));
	hdr(&sq.hdr, ESP_OP_CLOSE, 3);
	sq.index = 5;
	sq.gen = 1;
	rc |= write_seed(dir, "close", &sq, sizeof(sq));

	memset(&lq, 0, sizeof(lq));
	hdr(&lq.hdr, ESP_OP_LIST, 4);
	rc |= write_seed(dir, "list", &lq, sizeof(lq));
	lq.start = 10;
	lq.max = 5;
	rc |= write_seed(dir, "list-page", &lq, sizeof(lq));

	hdr(&st, ESP_OP_STATUS, 5);
	rc |= write_seed(dir, "status", &st, sizeof(st));
	st.version = 1;
	rc |= write_seed(dir, "status-version1", &st, sizeof(st));
	st.version = ESP_VERSION;
	st.op = 200;
	rc |= write_seed(dir, "unknown-op", &st, sizeof(st));
	rc |= write_seed(dir, "short", &st, 10);

	memset(&rq, 0, sizeof(rq));
	hdr(&rq.hdr, ESP_OP_REATTACH, 6);
	rq.index = 2;
	rq.gen = 3;
	rq.name_len = 4;
	memcpy(rq.name, "slot", 4);
	rc |= write_seed(dir, "reattach", &rq, sizeof(rq));

	memset(&eq, 0, sizeof(eq));
	hdr(&eq.hdr, ESP_OP_SEEN, 8);
	eq.index = 1025;
	eq.gen = 1;
	eq.value = 5;
	rc |= write_seed(dir, "seen", &eq, sizeof(eq));

	memset(&aq, 0, sizeof(aq));
	hdr(&aq.hdr, ESP_OP_ARM, 9);
	aq.index = 3;
	aq.gen = 1;
	aq.on = 1;
	rc |= write_seed(dir, "arm", &aq, sizeof(aq));
	aq.on = 2;
	rc |= write_seed(dir, "arm-bad", &aq, sizeof(aq));

	rc |= write_seed(dir, "name", "disk0/errors", 12);
	rc |= write_seed(dir, "shm-name", "/esdt-1-0", 9);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("ESDR_MUTATIONS");
	long mutations = env ? strtol(env, NULL, 10) : 300;
	int rc = 0;

	if (argc == 3 && !strcmp(argv[1], "--write-seeds"))
		return write_seeds(argv[2]);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay_path(argv[i], mutations, 1) < 0)
				rc = 1;
	} else {
		const char *top = getenv("ERRSEQ_TOP_SRCDIR");
		char path[4096];

		if (!top || !*top)
			top = ".";
		snprintf(path, sizeof(path), "%s/fuzz/corpus", top);
		if (replay_path(path, mutations, 1) < 0)
			rc = 1;
		snprintf(path, sizeof(path), "%s/fuzz/regressions", top);
		if (replay_path(path, mutations, 0) < 0)
			rc = 1;
	}
	printf("replay: %lu files, %lu inputs (%ld mutations each), "
	       "no disagreement\n", files, inputs, mutations);
	if (files == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	return rc;
}
