/*
 * errseq-exporter.c - a read-only HTTP client of errseqd for monitoring:
 * GET /metrics (Prometheus), GET /api/v1/slots and /api/v1/status (the
 * JSON of errseqctl --json list and status), GET / (a status page).
 *
 * One thread, one libevent loop (evhttp).  Each request takes a fresh look
 * at the daemon through liberrseq-client (errseq_status, errseq_list: the
 * daemon answers by peeking, nothing is consumed) and writes its answer
 * into memory, handed to evhttp in one piece.  The HTTP side is bounded:
 * GET and HEAD only, headers at most EXP_MAX_HEADERS bytes, bodies at most
 * EXP_MAX_BODY, and a connection that stalls for EXP_HTTP_TIMEOUT seconds
 * (reading the request or taking the answer) is closed; since evhttp never
 * blocks on a peer, a slow or garbage client does not hold up others.  A
 * daemon that is down or does not answer yields errseqd_up 0 (and 503 on
 * the JSON resources), never a failed scrape; the client reconnects on its
 * own, and is opened again if it never connected.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <errseq/client.h>

#include "ctl/format.h"
#include "exporter/exporter.h"

/* Seconds a connection may stall.  evhttp 2.1 counts it from the request,
 * through our own work on it, and closes the connection unanswered if the
 * work outlasts it (re-arming it from the handler does not help): so it
 * must exceed the slowest scrape (a million slots took 21 s on a machine
 * with a load of 13), while slow clients are bounded by the header and
 * body limits and never block other requests. */
#define EXP_HTTP_TIMEOUT 60
#define EXP_MAX_HEADERS 8192		/* bytes of request headers */
#define EXP_MAX_BODY 1024		/* bytes of request body */
#define EXP_QUERY_MAX 256		/* bytes of a ?q= filter */

static const char usage_text[] =
"Usage: errseq-exporter [OPTIONS]\n"
"\n"
"Serve errseqd's slots over HTTP for monitoring, read-only:\n"
"  /metrics        Prometheus text format\n"
"  /api/v1/slots   the JSON of 'errseqctl --json list'\n"
"  /api/v1/status  the JSON of 'errseqctl --json status'\n"
"  /               a status page\n"
"\n"
"Options:\n"
"  -l, --listen ADDR:PORT      where to listen (default 127.0.0.1:9877;\n"
"                              IPv6 as [::1]:9877; port 0 picks one)\n"
"  -s, --socket PATH           errseqd's socket (default: $ERRSEQD_SOCKET,\n"
"                              else the system default, see errseqd(8))\n"
"      --include GLOB          per-slot series only for names matching a\n"
"                              GLOB (repeatable; default: every name)\n"
"      --exclude GLOB          no per-slot series for names matching GLOB\n"
"                              (repeatable)\n"
"      --max-slot-series N     per-slot series for at most N slots (default\n"
"                              2000; 0: none); errseq_exporter_slots_cut\n"
"                              counts the slots left out\n"
"  -h, --help                  show this help and exit\n"
"  -V, --version               show the version and exit\n"
"\n"
"Exit status: 0 after SIGTERM or SIGINT, 1 on failure, 2 on a usage error.\n"
"See errseq-exporter(1).\n";

struct exporter {
	struct exp_opts o;
	struct event_base *base;
	struct errseq_client *c;	/* NULL until the daemon answered */
	uint64_t scrapes;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "errseq-exporter: %s%s%s\n"
		"Try 'errseq-exporter --help' for more information.\n",
		msg, arg ? " " : "", arg ? arg : "");
	return 2;
}

/* ---- one look at the daemon --------------------------------------------- */

static void take_snapshot(struct exporter *x, struct exp_snapshot *s,
			  bool list)
{
	int r;

	memset(s, 0, sizeof(*s));
	if (!x->c) {
		r = errseq_client_open(x->o.socket, &x->c);
		if (r < 0) {
			x->c = NULL;
			s->error = r;
			return;
		}
	}
	r = errseq_status(x->c, &s->st);
	if (r == 0 && list)
		r = ctl_listing_collect(x->c, NULL, &s->slots);
	if (r < 0) {
		s->error = r;
		ctl_listing_free(&s->slots);
		/* -ENOTCONN: the client's own thread reconnects; anything
		 * else (a broken protocol, a fork) calls for a new client */
		if (r != -ENOTCONN && r != -ETIMEDOUT) {
			errseq_client_close(x->c);
			x->c = NULL;
		}
		return;
	}
	s->up = true;
}

/* ---- HTTP --------------------------------------------------------------- */

static void free_memstream(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static void common_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

/* Send @buf (from open_memstream, @len bytes; taken over) with @code. */
static void send_buf(struct evhttp_request *req, int code, const char *reason,
		     char *buf, size_t len)
{
	struct evbuffer *out = evbuffer_new();

	if (!out || evbuffer_add_reference(out, buf, len, free_memstream,
					   NULL) < 0) {
		free(buf);
		if (out)
			evbuffer_free(out);
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static void send_text(struct evhttp_request *req, int code,
		      const char *reason, const char *text)
{
	char *buf = strdup(text);

	common_headers(req, "text/plain; charset=utf-8");
	if (!buf) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	send_buf(req, code, reason, buf, strlen(buf));
}

/* A memory stream for an answer; NULL (and a 500 sent) on failure. */
static FILE *answer_open(struct evhttp_request *req, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);

	if (!f)
		evhttp_send_error(req, 500, "Internal Server Error");
	return f;
}

/* Close @f and send it, or 500 if writing it failed. */
static void answer_send(struct evhttp_request *req, FILE *f, int r,
			int code, const char *reason, char **buf, size_t *len)
{
	if (fclose(f) != 0 || r < 0) {
		free(*buf);
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	send_buf(req, code, reason, *buf, *len);
}

static void serve_metrics(struct exporter *x, struct evhttp_request *req)
{
	uint64_t start = exp_now_ns(true);
	struct exp_snapshot s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	x->scrapes++;
	take_snapshot(x, &s, true);
	common_headers(req, "text/plain; version=0.0.4; charset=utf-8");
	f = answer_open(req, &buf, &len);
	if (!f) {
		ctl_listing_free(&s.slots);
		return;
	}
	r = exp_write_metrics(f, &s, &x->o, start, x->scrapes);
	ctl_listing_free(&s.slots);
	answer_send(req, f, r, 200, "OK", &buf, &len);
}

/* The daemon is down: 503 with a JSON body saying why. */
static void serve_down_json(struct evhttp_request *req,
			    const struct exp_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = answer_open(req, &buf, &len);

	if (!f)
		return;
	fprintf(f, "{\"version\":%d,\"error\":", CTL_JSON_VERSION);
	ctl_json_string(f, errseq_strerror(s->error));
	fputs("}\n", f);
	answer_send(req, f, 0, 503, "Service Unavailable", &buf, &len);
}

/* The value of query parameter @key in @req's URI, or NULL; *@bad is set
 * if the query does not parse.  Free the result with free(). */
static char *query_param(struct evhttp_request *req, const char *key,
			 bool *bad)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	struct evkeyvalq params;
	const char *v;
	char *out = NULL;

	if (!q)
		return NULL;
	memset(&params, 0, sizeof(params));
	params.tqh_last = &params.tqh_first;	/* TAILQ_INIT */
	if (evhttp_parse_query_str(q, &params) < 0) {
		*bad = true;
		evhttp_clear_headers(&params);
		return NULL;
	}
	v = evhttp_find_header(&params, key);
	if (v) {
		if (strlen(v) > EXP_QUERY_MAX)
			*bad = true;
		else
			out = strdup(v);
	}
	evhttp_clear_headers(&params);
	return out;
}

static void serve_slots(struct exporter *x, struct evhttp_request *req)
{
	struct exp_snapshot s;
	bool bad = false;
	char *q = query_param(req, "q", &bad);
	char *lim = query_param(req, "limit", &bad);
	char *buf = NULL, *end = NULL;
	unsigned long limit = 0;
	size_t len = 0;
	FILE *f;
	int r;

	if (lim) {
		errno = 0;
		limit = strtoul(lim, &end, 10);
		if (errno || !*lim || *end || lim[0] == '-')
			bad = true;
	}
	if (bad) {
		free(q);
		free(lim);
		send_text(req, 400, "Bad Request",
			  "bad query: q=SUBSTRING and limit=N only\n");
		return;
	}
	take_snapshot(x, &s, true);
	common_headers(req, "application/json");
	if (!s.up) {
		free(q);
		free(lim);
		serve_down_json(req, &s);
		return;
	}
	if (q || lim) {
		/* the page's refresh: names containing q, pending and
		 * recently set first, at most limit of them */
		size_t k = 0;

		for (size_t i = 0; i < s.slots.n; i++)
			if (!q || strstr(s.slots.slot[i].name, q))
				s.slots.slot[k++] = s.slots.slot[i];
		s.slots.n = k;
		if (lim) {
			exp_sort_for_cut(&s.slots);
			if (s.slots.n > limit)
				s.slots.n = limit;
		}
	}
	free(q);
	free(lim);
	f = answer_open(req, &buf, &len);
	if (!f) {
		ctl_listing_free(&s.slots);
		return;
	}
	r = ctl_write_json_list(f, &s.slots);
	ctl_listing_free(&s.slots);
	answer_send(req, f, r, 200, "OK", &buf, &len);
}

static void serve_status(struct exporter *x, struct evhttp_request *req)
{
	struct exp_snapshot s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	take_snapshot(x, &s, false);
	common_headers(req, "application/json");
	if (!s.up) {
		serve_down_json(req, &s);
		return;
	}
	f = answer_open(req, &buf, &len);
	if (!f)
		return;
	ctl_write_json_status(f, &s.st);
	answer_send(req, f, ferror(f) ? -EIO : 0, 200, "OK", &buf, &len);
}

static void serve_page(struct exporter *x, struct evhttp_request *req)
{
	static const char hex[] = "0123456789abcdef";
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	unsigned char rnd[16];
	char nonce[33], csp[512];
	struct exp_snapshot s;
	bool bad = false;
	char *q = query_param(req, "q", &bad);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (bad) {
		free(q);
		send_text(req, 400, "Bad Request", "bad query\n");
		return;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		free(q);
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		nonce[2 * i] = hex[rnd[i] >> 4];
		nonce[2 * i + 1] = hex[rnd[i] & 15];
	}
	nonce[32] = '\0';
	snprintf(csp, sizeof(csp),
		 "default-src 'none'; script-src 'nonce-%s'; style-src "
		 "'nonce-%s'; connect-src 'self'; img-src 'none'; base-uri "
		 "'none'; form-action 'none'; frame-ancestors 'none'",
		 nonce, nonce);
	take_snapshot(x, &s, true);
	common_headers(req, "text/html; charset=utf-8");
	evhttp_add_header(h, "Content-Security-Policy", csp);
	f = answer_open(req, &buf, &len);
	if (!f) {
		free(q);
		ctl_listing_free(&s.slots);
		return;
	}
	r = exp_write_page(f, &s, q, nonce);
	free(q);
	ctl_listing_free(&s.slots);
	answer_send(req, f, r, 200, "OK", &buf, &len);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct exporter *x = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;

	if (!path || !*path)
		path = "/";
	if (!strcmp(path, "/metrics"))
		serve_metrics(x, req);
	else if (!strcmp(path, "/api/v1/slots"))
		serve_slots(x, req);
	else if (!strcmp(path, "/api/v1/status"))
		serve_status(x, req);
	else if (!strcmp(path, "/"))
		serve_page(x, req);
	else
		send_text(req, 404, "Not Found",
			  "not found: try /, /metrics, /api/v1/slots or "
			  "/api/v1/status\n");
}

/* ---- startup ------------------------------------------------------------ */

/* Split "ADDR:PORT" or "[ADDR]:PORT" into @addr and @port. */
static int parse_listen(const char *s, char *addr, size_t len, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	const char *a = s;
	size_t alen;
	char *end;
	unsigned long p;

	if (!colon || !colon[1])
		return -1;
	alen = (size_t)(colon - s);
	if (alen >= 2 && s[0] == '[' && s[alen - 1] == ']') {
		a = s + 1;
		alen -= 2;
	}
	if (alen == 0 || alen >= len)
		return -1;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p > 65535 || colon[1] < '0' || colon[1] > '9')
		return -1;
	*port = (uint16_t)p;
	return 0;
}

static void on_stop_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

/* The address actually bound, for the log ("listening on ..."). */
static void log_bound(struct evhttp_bound_socket *b)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	evutil_socket_t fd = evhttp_bound_socket_get_fd(b);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, host,
				  sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	fprintf(stderr, "errseq-exporter: listening on %s%s%s:%u\n",
		strchr(host, ':') ? "[" : "", host,
		strchr(host, ':') ? "]" : "", port);
}

static int parse_args(struct exporter *x, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		{ "include", required_argument, NULL, 'i' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "max-slot-series", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	x->o.listen = "127.0.0.1:9877";
	x->o.max_slot_series = EXP_DEFAULT_MAX_SLOT_SERIES;
	x->o.include = calloc((size_t)argc, sizeof(char *));
	x->o.exclude = calloc((size_t)argc, sizeof(char *));
	if (!x->o.include || !x->o.exclude) {
		fputs("errseq-exporter: out of memory\n", stderr);
		return 1;
	}
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":l:s:hV", longopts,
				  NULL)) != -1) {
		char *end;
		unsigned long long n;

		switch (opt) {
		case 'l':
			x->o.listen = optarg;
			break;
		case 's':
			if (!*optarg)
				return usage_error("--socket needs a path",
						   NULL);
			x->o.socket = optarg;
			break;
		case 'i':
			x->o.include[x->o.n_include++] = optarg;
			break;
		case 'x':
			x->o.exclude[x->o.n_exclude++] = optarg;
			break;
		case 'm':
			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (errno || !*optarg || *end || optarg[0] == '-' ||
			    n > 100000000ull)
				return usage_error("invalid --max-slot-series",
						   optarg);
			x->o.max_slot_series = (size_t)n;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return fflush(stdout) ? 1 : -1;
		case 'V':
			printf("errseq-exporter (%s) %s\n", PACKAGE_NAME,
			       PACKAGE_VERSION);
			return fflush(stdout) ? 1 : -1;
		case ':':
			return usage_error("option needs an argument:",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	return 0;
}

int main(int argc, char **argv)
{
	struct exporter x = { .c = NULL };
	struct evhttp *http = NULL;
	struct evhttp_bound_socket *bound;
	struct event *sigterm = NULL, *sigint = NULL;
	char addr[256];
	uint16_t port;
	int status = 1;
	int r = parse_args(&x, argc, argv);

	if (r) {
		status = r < 0 ? 0 : r;
		goto out;
	}
	if (parse_listen(x.o.listen, addr, sizeof(addr), &port) < 0) {
		status = usage_error("invalid --listen (ADDR:PORT, e.g. "
				     "127.0.0.1:9877 or [::1]:9877):",
				     x.o.listen);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	x.base = event_base_new();
	http = x.base ? evhttp_new(x.base) : NULL;
	if (!http) {
		fputs("errseq-exporter: cannot set up libevent\n", stderr);
		goto out;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(http, EXP_HTTP_TIMEOUT);
	evhttp_set_max_headers_size(http, EXP_MAX_HEADERS);
	evhttp_set_max_body_size(http, EXP_MAX_BODY);
	evhttp_set_gencb(http, on_request, &x);
	bound = evhttp_bind_socket_with_handle(http, addr, port);
	if (!bound) {
		fprintf(stderr, "errseq-exporter: cannot listen on %s: %s\n",
			x.o.listen, strerror(errno));
		goto out;
	}
	log_bound(bound);
	sigterm = evsignal_new(x.base, SIGTERM, on_stop_signal, x.base);
	sigint = evsignal_new(x.base, SIGINT, on_stop_signal, x.base);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0) {
		fputs("errseq-exporter: cannot handle signals\n", stderr);
		goto out;
	}
	/* connect now if the daemon is there; if not, each request tries */
	if (errseq_client_open(x.o.socket, &x.c) < 0)
		x.c = NULL;
	if (event_base_dispatch(x.base) < 0) {
		fputs("errseq-exporter: event loop failed\n", stderr);
		goto out;
	}
	status = 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (http)
		evhttp_free(http);
	if (x.base)
		event_base_free(x.base);
	errseq_client_close(x.c);
	free(x.o.include);
	free(x.o.exclude);
	return status;
}
