/*
 * bench/rawconn.c: what one Firestore documents.get costs this process's CPU
 * through five clients, on one kept connection each, single thread (issue 14
 * §3, branch rawconn). Built by hand, not part of the product:
 *
 *   . bench/lib.sh && here=$PWD && bench_cc /tmp/rawconn bench/rawconn.c
 *   /tmp/rawconn HOST:PORT [N] [ROUNDS]
 *
 * HOST:PORT is a running Firestore emulator (a stack's FIRESTORE_EMULATOR_HOST).
 * It writes one product document (organizations/rawconn/products/p1, the
 * fields a product has, 80 search prefixes outside the mask), then reads it
 * N times (default 5,000) with the product get's field mask through each of
 *   fs    fx_firestore_get_mask: what the product get calls (URL, mask cache,
 *         auth header, fx_httpc_do, fx_fsdecode_doc into an fx_doc); the lean
 *         path on branch rawconn, curl_easy_perform before it
 *   httpc fx_httpc_do with the same URL and headers through curl_easy_perform
 *         (lean false), the answer not decoded
 *   lean  the same with fx_httpc_req.lean: lib/httpc's own request path on a
 *         CONNECT_ONLY connection (what fs takes since branch rawconn)
 *   curl  libcurl CURLOPT_CONNECT_ONLY, curl_easy_send/curl_easy_recv: the
 *         request's text built once but for the path, the answer parsed
 *         minimally (status line, Content-Length, body), poll on EAGAIN
 *   raw   a plain socket: the same text written with send(), read with recv()
 *         and poll on EAGAIN (the floor)
 * in ROUNDS (default 5) interleaved rounds of N/ROUNDS each, so the machine's
 * load moves all five alike. Prints per client: µs of this process's CPU
 * (getrusage user+sys) per GET, and µs of wall time per GET, per round and in all.
 * Every answer is checked (200, the body's length, the document's name in it).
 */
#include "firestore.h"
#include "config.h"
#include "httpc.h"
#include "log.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DOC "organizations/rawconn/products/p1"
#define PATH_PREFIX "/v1/projects/demo-fluxori/databases/%28default%29/documents/"

static const char *const mask[] = {"sku",       "name",      "description", "category",  "brand",     "barcode",
				   "priceCents", "costCents", "currency",    "status",    "attributes", "images",
				   "stock",     "lowStock",  "createdAt",   "updatedAt", "organizationId", NULL};

static char hostport[128];
static char path[2048]; /* the request's path and query, as fx_firestore builds it */
static char url[2300];

static void die(const char *what)
{
	fprintf(stderr, "rawconn: %s\n", what);
	exit(1);
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static double wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- the answer, parsed minimally (curl and raw) ---- */

struct answer {
	char buf[65536];
	size_t len;
};

/* Bytes of a complete answer in a->buf (0: not yet); status into *status. */
static size_t complete(const struct answer *a, int *status)
{
	const char *end = memmem(a->buf, a->len, "\r\n\r\n", 4), *p;
	size_t head, clen = 0;
	bool have = false;

	if (!end)
		return 0;
	head = (size_t)(end - a->buf) + 4;
	if (a->len < 12 || memcmp(a->buf, "HTTP/1.1 ", 9) != 0)
		die("bad status line");
	*status = atoi(a->buf + 9);
	for (p = memchr(a->buf, '\n', head); p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		p++;
		if (strncasecmp(p, "content-length:", 15) == 0) {
			clen = strtoul(p + 15, NULL, 10);
			have = true;
		}
	}
	if (!have)
		die("no content-length (chunked answers are not parsed here)");
	return a->len >= head + clen ? head + clen : 0;
}

static void check(const struct answer *a, int status)
{
	if (status != 200 || !memmem(a->buf, a->len, "organizations/rawconn/products/p1", 33))
		die("unexpected answer");
}

/* The request's text: built once but for the path. */
static char req_head[] = "GET ";
static char req_tail[512];
static size_t req_tail_len;

static size_t build_request(char *out, size_t cap)
{
	size_t plen = strlen(path), n = sizeof(req_head) - 1;

	if (n + plen + req_tail_len > cap)
		die("request too long");
	memcpy(out, req_head, n);
	memcpy(out + n, path, plen);
	memcpy(out + n + plen, req_tail, req_tail_len);
	return n + plen + req_tail_len;
}

/* ---- (c) raw socket ---- */

static int raw_fd = -1;

static void raw_connect(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strchr(hostport, ':');
	int one = 1;

	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	sa.sin_port = htons((unsigned short)atoi(colon + 1));
	inet_pton(AF_INET, host, &sa.sin_addr);
	raw_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (connect(raw_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		die("connect");
	struct pollfd pf = {raw_fd, POLLOUT, 0};
	poll(&pf, 1, 5000);
	setsockopt(raw_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void raw_get(struct answer *a)
{
	char req[4096];
	size_t n = build_request(req, sizeof(req)), off = 0;
	int status = 0;

	while (off < n) {
		ssize_t w = send(raw_fd, req + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = {raw_fd, POLLOUT, 0};
			poll(&pf, 1, 5000);
			continue;
		}
		if (w <= 0)
			die("send");
		off += (size_t)w;
	}
	a->len = 0;
	for (;;) {
		ssize_t r = recv(raw_fd, a->buf + a->len, sizeof(a->buf) - a->len, 0);

		if (r < 0 && errno == EAGAIN) {
			struct pollfd pf = {raw_fd, POLLIN, 0};
			if (poll(&pf, 1, 5000) <= 0)
				die("raw: poll timed out");
			continue;
		}
		if (r <= 0)
			die("recv");
		a->len += (size_t)r;
		if (complete(a, &status))
			break;
	}
	check(a, status);
}

/* ---- (b) libcurl CONNECT_ONLY ---- */

static CURL *ch;
static curl_socket_t curl_fd;

static void curl_connect(void)
{
	ch = curl_easy_init();
	curl_easy_setopt(ch, CURLOPT_URL, url);
	curl_easy_setopt(ch, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(ch, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(ch, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(ch) != CURLE_OK)
		die("curl connect");
	if (curl_easy_getinfo(ch, CURLINFO_ACTIVESOCKET, &curl_fd) != CURLE_OK)
		die("curl socket");
}

static void curl_get(struct answer *a)
{
	char req[4096];
	size_t n = build_request(req, sizeof(req)), off = 0;
	int status = 0;

	while (off < n) {
		size_t w = 0;
		CURLcode rc = curl_easy_send(ch, req + off, n - off, &w);

		if (rc == CURLE_AGAIN) {
			struct pollfd pf = {curl_fd, POLLOUT, 0};
			poll(&pf, 1, 5000);
			continue;
		}
		if (rc != CURLE_OK)
			die("curl_easy_send");
		off += w;
	}
	a->len = 0;
	for (;;) {
		size_t r = 0;
		CURLcode rc = curl_easy_recv(ch, a->buf + a->len, sizeof(a->buf) - a->len, &r);

		if (rc == CURLE_AGAIN) {
			struct pollfd pf = {curl_fd, POLLIN, 0};
			if (poll(&pf, 1, 5000) <= 0)
				die("curl: poll timed out");
			continue;
		}
		if (rc != CURLE_OK || r == 0)
			die("curl_easy_recv");
		a->len += r;
		if (complete(a, &status))
			break;
	}
	check(a, status);
}

/* ---- (a) the product get's path ---- */

static void httpc_call(bool lean)
{
	static const char *const headers[] = {"Authorization: Bearer owner", "Content-Type: application/json",
					      "Accept: application/json", NULL};
	struct fx_httpc_req req = {0};
	struct fx_httpc_resp resp;
	struct fx_err e;

	fx_httpc_resp_init(&resp);
	req.lean = lean;
	req.url = url;
	req.headers = headers;
	req.retry = FX_RETRY_IDEMPOTENT;
	req.max_attempts = 3;
	req.service = "firestore";
	if (fx_httpc_do(&req, &resp, &e) < 0 || resp.status != 200 ||
	    !memmem(resp.body.data, resp.body.len, "organizations/rawconn/products/p1", 33))
		die("httpc: unexpected answer");
	fx_httpc_resp_cleanup(&resp);
}

static void httpc_get(struct answer *a)
{
	(void)a;
	httpc_call(false);
}

static void lean_get(struct answer *a)
{
	(void)a;
	httpc_call(true);
}

static void fs_get(struct answer *a)
{
	struct fx_doc d;
	struct fx_err e;

	(void)a;
	if (fx_firestore_get_mask(DOC, mask, &d, &e) < 0 || !d.name)
		die("fs: get failed");
	fx_firestore_doc_cleanup(&d);
}

/* ---- the run ---- */

struct client {
	const char *name;
	void (*get)(struct answer *a);
	double cpu, wall;
};

int main(int argc, char **argv)
{
	static struct fx_config cfg;
	static char fs_url[160];
	static struct answer a;
	struct client clients[] = {
		{"fs", fs_get, 0, 0},     {"httpc", httpc_get, 0, 0}, {"lean", lean_get, 0, 0},
		{"curl", curl_get, 0, 0}, {"raw", raw_get, 0, 0}};
	int nclients = (int)(sizeof(clients) / sizeof(clients[0]));
	int n = argc > 2 ? atoi(argv[2]) : 5000, rounds = argc > 3 ? atoi(argv[3]) : 5, per;
	char cmd[3000];

	if (argc < 2 || !strchr(argv[1], ':'))
		die("usage: rawconn HOST:PORT [N] [ROUNDS]");
	snprintf(hostport, sizeof(hostport), "%s", argv[1]);
	per = n / rounds;
	fx_log_init("rawconn", FX_LOG_ERROR + 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(fs_url, sizeof(fs_url), "http://%s", hostport);
	cfg.project = "demo-fluxori";
	cfg.database = "(default)";
	cfg.firestore_emulator = hostport;
	cfg.firestore_url = fs_url;
	cfg.http_timeout_ms = 10000;
	cfg.connect_timeout_ms = 1000;
	fx_config_set(&cfg);

	{
		int len = snprintf(path, sizeof(path), "%s%s", PATH_PREFIX, DOC);

		for (int i = 0; mask[i]; i++)
			len += snprintf(path + len, sizeof(path) - (size_t)len, "%smask.fieldPaths=%s", i ? "&" : "?",
					mask[i]);
	}
	snprintf(url, sizeof(url), "http://%s%s", hostport, path);
	/* What libcurl sends for fx_httpc_do's GET, less its User-Agent (none is set). */
	req_tail_len = (size_t)snprintf(req_tail, sizeof(req_tail),
					" HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer owner\r\n"
					"Content-Type: application/json\r\nAccept: application/json\r\n\r\n",
					hostport);

	/* The document (a product's fields; searchPrefixes outside the mask). */
	snprintf(cmd, sizeof(cmd),
		 "python3 - <<'EOF' | curl -sf -o /dev/null -X PATCH -H 'Authorization: Bearer owner' "
		 "-H 'Content-Type: application/json' --data @- 'http://%s%s%s'\n"
		 "import json\n"
		 "def s(v): return {'stringValue': v}\n"
		 "def i(v): return {'integerValue': str(v)}\n"
		 "f = {'sku': s('SKU-000123'), 'name': s('Blue ceramic mug 350 ml'),\n"
		 " 'description': s('A sturdy blue ceramic mug, dishwasher safe, 350 ml.'), 'category': s('kitchen'),\n"
		 " 'brand': s('Acme'), 'barcode': s('4006381333931'), 'priceCents': i(1299), 'costCents': i(540),\n"
		 " 'currency': s('EUR'), 'status': s('active'),\n"
		 " 'attributes': {'mapValue': {'fields': {'color': s('blue'), 'material': s('ceramic')}}},\n"
		 " 'images': {'arrayValue': {'values': [s('organizations/rawconn/products/p1/images/a.jpg')]}},\n"
		 " 'stock': i(42), 'lowStock': i(5), 'createdAt': {'timestampValue': '2026-12-03T10:00:00.123Z'},\n"
		 " 'updatedAt': {'timestampValue': '2026-12-03T10:05:00.456Z'}, 'organizationId': s('rawconn'),\n"
		 " 'nameLower': s('blue ceramic mug 350 ml'), 'skuKey': s('sku-000123'),\n"
		 " 'searchPrefixes': {'arrayValue': {'values': [s('blue ceramic mug'[:k]) for k in range(1, 17)] * 5}}}\n"
		 "print(json.dumps({'fields': f}))\n"
		 "EOF",
		 hostport, PATH_PREFIX, DOC);
	if (system(cmd) != 0)
		die("could not write the document");

	raw_connect();
	curl_connect();
	/* Warm-up: every client's connection made, the emulator's path warm. */
	for (int w = 0; w < 200; w++)
		for (int c = 0; c < nclients; c++)
			clients[c].get(&a);
	printf("rawconn: %d GETs per client in %d interleaved rounds; answer %zu bytes; request %zu bytes\n",
	       per * rounds, rounds, a.len, build_request(cmd, sizeof(cmd)));
	for (int r = 0; r < rounds; r++) {
		printf("round %d:", r + 1);
		for (int c = 0; c < nclients; c++) {
			double c0 = cpu_us(), w0 = wall_us(), dc, dw;

			for (int i = 0; i < per; i++)
				clients[c].get(&a);
			dc = cpu_us() - c0;
			dw = wall_us() - w0;
			clients[c].cpu += dc;
			clients[c].wall += dw;
			printf("  %s %.1f/%.1f", clients[c].name, dc / per, dw / per);
		}
		printf("  (µs CPU/wall per GET)\n");
	}
	printf("%-6s %12s %12s\n", "client", "cpu_us/get", "wall_us/get");
	for (int c = 0; c < nclients; c++)
		printf("%-6s %12.1f %12.1f\n", clients[c].name, clients[c].cpu / (per * rounds),
		       clients[c].wall / (per * rounds));
	curl_easy_cleanup(ch);
	close(raw_fd);
	fx_httpc_thread_cleanup();
	curl_global_cleanup();
	return 0;
}
