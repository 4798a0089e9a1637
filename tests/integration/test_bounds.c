/*
 * Inputs at and past the bounds that size memory, through nginx (issue 12,
 * defects 1 to 3): a mebibyte of JSON keys, a search of forty four-byte
 * characters, and a stored content type that fills a response header. Each
 * must get the contract's answer from a worker that keeps running: restarts
 * are counted by the control script and by /metrics, and a worker's memory
 * is read from its peak resident size (VmHWM), never from a clock.
 */
#include "client.h"
#include "json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMOJI "\xf0\x9f\x98\x80" /* U+1F600: four bytes, one character */
#define EMOJI_PCT "%F0%9F%98%80"

struct tenant {
	struct test_user owner;
	char org[64];
};

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %.300s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%.300s", r->body);
	cr_assert_not_null(json_str(r, "error.requestId"), "%.300s", r->body);
}

static void make_tenant(struct tenant *t, const char *prefix)
{
	test_owner_signup(&t->owner, prefix, "Bounds", t->org, sizeof(t->org));
}

/* The first line a shell command prints, into out. */
static void sh_line(char *out, size_t len, const char *cmd)
{
	FILE *p = popen(cmd, "r");

	cr_assert_not_null(p, "%s", cmd);
	if (!fgets(out, (int)len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/* A worker group as `fluxorictl status` shows it, and its processes' peak memory. */
struct group_state {
	long pids[2];
	long restarts;
	long long peak_kib; /* VmHWM summed over both instances */
};

static void group_state(const char *group, struct group_state *g)
{
	char cmd[512], line[512];
	const char *p;

	snprintf(cmd, sizeof(cmd), "\"$FLUXORI_SRCDIR/scripts/fluxorictl\" status | grep '^%s '", group);
	sh_line(line, sizeof(line), cmd);
	p = strstr(line, "pids=");
	cr_assert_not_null(p, "fluxorictl status shows %s: %s", group, line);
	cr_assert_eq(sscanf(p, "pids=%ld,%ld", &g->pids[0], &g->pids[1]), 2, "both instances of %s run: %s", group,
		     line);
	p = strstr(line, "restarts=");
	cr_assert_not_null(p, "%s", line);
	g->restarts = strtol(p + strlen("restarts="), NULL, 10);
	g->peak_kib = 0;
	for (int i = 0; i < 2; i++) {
		char path[64], status[256];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%ld/status", g->pids[i]);
		f = fopen(path, "r");
		cr_assert_not_null(f, "%s", path);
		while (fgets(status, sizeof(status), f)) {
			long long kib;

			if (sscanf(status, "VmHWM: %lld kB", &kib) == 1)
				g->peak_kib += kib;
		}
		fclose(f);
	}
}

static double restarts_metric(const char *group)
{
	char series[128];

	snprintf(series, sizeof(series), "fluxori_worker_restarts_total{group=\"%s\"}", group);
	return test_metric(series);
}

/* {"0":0,"1":0,...} of just under limit bytes; with a repeat of "0" at the end when dup. */
static char *many_keys(size_t limit, bool dup, size_t *len)
{
	char *b = malloc(limit + 1);
	size_t n = 0;

	cr_assert_not_null(b);
	b[n++] = '{';
	for (int i = 0;; i++) {
		char k[32];
		int w = snprintf(k, sizeof(k), "%s\"%d\":0", i ? "," : "", i);

		if (n + (size_t)w + 8 > limit)
			break;
		memcpy(b + n, k, (size_t)w);
		n += (size_t)w;
	}
	if (dup) {
		memcpy(b + n, ",\"0\":1", 6);
		n += 6;
	}
	b[n++] = '}';
	b[n] = '\0';
	*len = n;
	return b;
}

/*
 * Defect 1: the strict JSON scanner took a buffer the size of the rest of
 * the body per key and kept them all: ~440 MiB and seconds of CPU for one
 * mebibyte. Both bodies (unknown keys; a duplicate key half a mebibyte from
 * its first occurrence) must be the contract's 400 from a worker whose peak
 * memory grew by less than 128 MiB and that was not restarted. Measured:
 * +25 to +30 MiB (json-c's tree of 105k values is most of it), +63 MiB with
 * ASan's allocator under scripts/memcheck, +600 to +850 MiB before the fix;
 * the tight bound on the parse itself is tests/lib/test_json's.
 */
static void mebibyte_of_keys(const char *method, const char *path, const char *group)
{
	struct test_user u;
	struct group_state before, after;
	double metric_before = restarts_metric(group);

	cr_assert_eq(test_user_signup(&u, "keys"), 0);
	group_state(group, &before);
	for (int dup = 0; dup < 2; dup++) {
		size_t n;
		char *body = many_keys(1024 * 1024, dup, &n);
		struct http_resp *r = http_do(method, path, u.id_token, "application/json", body, n, NULL);

		assert_error(r, 400, "INVALID_ARGUMENT");
		if (dup)
			cr_assert(strstr(json_str(r, "error.message"), "duplicate key \"0\""), "%.300s", r->body);
		http_resp_free(r);
		free(body);
	}
	group_state(group, &after);
	fprintf(stderr, "bounds: two 1 MiB bodies of keys to %s %s: peak memory of its workers +%lld KiB\n", method,
		path, after.peak_kib - before.peak_kib);
	cr_assert_eq(after.pids[0], before.pids[0], "instance a of %s is the same process", group);
	cr_assert_eq(after.pids[1], before.pids[1], "instance b of %s is the same process", group);
	cr_assert_eq(after.restarts, before.restarts, "fluxorictl counts no restart of %s", group);
	cr_assert_eq(restarts_metric(group), metric_before, "/metrics counts no restart of %s", group);
	cr_assert_lt(after.peak_kib - before.peak_kib, 128 * 1024,
		     "two 1 MiB bodies raised the peak memory of %s by %lld KiB", group,
		     after.peak_kib - before.peak_kib);
}

Test(json, a_mebibyte_of_keys_to_patch_users_me_is_400_in_bounded_memory, .timeout = 120)
{
	mebibyte_of_keys("PATCH", "/v1/users/me", "users");
}

Test(json, a_mebibyte_of_keys_to_post_organizations_is_400_in_bounded_memory, .timeout = 120)
{
	mebibyte_of_keys("POST", "/v1/organizations", "organizations");
}

/* n copies of s. */
static char *repeat(const char *s, int n)
{
	size_t len = strlen(s);
	char *out = malloc(len * (size_t)n + 1);

	cr_assert_not_null(out);
	for (int i = 0; i < n; i++)
		memcpy(out + len * (size_t)i, s, len);
	out[len * (size_t)n] = '\0';
	return out;
}

/*
 * Defect 2: ?q= is at most 40 characters and was copied byte by byte into a
 * 41-byte stack buffer, so 40 four-byte characters wrote 120 bytes past it.
 * The 40-character search must answer (and find the product whose whole name
 * it is: search prefixes count characters too), 41 characters are the 400
 * naming q, and the products workers live on.
 */
Test(products, a_search_of_forty_four_byte_characters_answers_and_finds_its_product, .timeout = 120)
{
	struct tenant t;
	struct group_state before, after;
	double metric_before = restarts_metric("products");
	char *name = repeat(EMOJI, 40), *q40 = repeat(EMOJI_PCT, 40), *q41 = repeat(EMOJI_PCT, 41);
	char body[512], path[1024];
	struct http_resp *r;

	make_tenant(&t, "search");
	group_state("products", &before);
	snprintf(body, sizeof(body), "{\"sku\":\"EMOJI-40\",\"name\":\"%s\",\"priceCents\":100}", name);
	r = http_json("POST", "/v1/products", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);

	snprintf(path, sizeof(path), "/v1/products?q=%s", q40);
	for (int i = 0; i < 4; i++) {
		r = http_get(path, t.owner.id_token);
		cr_assert_eq(r->status, 200, "40 characters (160 bytes) are a valid search: %ld %.300s", r->status,
			     r->body);
		cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1,
			     "the whole 40-character name finds the product: %.300s", r->body);
		cr_assert_str_eq(json_str(r, "data.0.name"), name);
		http_resp_free(r);
	}
	snprintf(path, sizeof(path), "/v1/products?q=%.*s", 10 * (int)strlen(EMOJI_PCT), q40);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(json_object_array_length(json_object_object_get(r->json, "data")), 1, "%.300s", r->body);
	http_resp_free(r);
	snprintf(path, sizeof(path), "/v1/products?q=%s", q41);
	r = http_get(path, t.owner.id_token);
	assert_error(r, 400, "INVALID_ARGUMENT");
	cr_assert_str_eq(json_str(r, "error.details.0.field"), "q", "%.300s", r->body);
	http_resp_free(r);

	group_state("products", &after);
	cr_assert_eq(after.pids[0], before.pids[0], "instance a of products is the same process");
	cr_assert_eq(after.pids[1], before.pids[1], "instance b of products is the same process");
	cr_assert_eq(after.restarts, before.restarts, "fluxorictl counts no restart of products");
	cr_assert_eq(restarts_metric("products"), metric_before, "/metrics counts no restart of products");
	free(name);
	free(q40);
	free(q41);
}

/* PNG magic, then every byte value including NULs. */
static char *png_bytes(size_t n)
{
	char *p = malloc(n);

	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7);
	memcpy(p, "\x89PNG\r\n\x1a\n", 8);
	return p;
}

/* Writes fields (Firestore typed JSON) straight into the emulator's document rel. */
static void fs_patch(const char *rel, const char *mask, const char *fields)
{
	char url[600], *body;
	const char *h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	struct http_resp *r;
	size_t blen = strlen(fields) + 32;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/"
		 "%s?updateMask.fieldPaths=%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), rel, mask);
	body = malloc(blen);
	cr_assert_not_null(body);
	snprintf(body, blen, "{\"fields\":%s}", fields);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%.300s", r->body);
	http_resp_free(r);
	free(body);
}

/*
 * A ready PNG file of n bytes whose stored contentType is then ctype_json (a
 * JSON string body). Production's :signUpload stores the type it is given
 * (only the Storage emulator's upload session checks it), and whatever the
 * upload checks, the header writer must be safe for what is stored; so the
 * test writes the document as such an upload would have left it.
 */
static void stored_file(const struct tenant *t, const char *ctype_json, const char *data, size_t n, char *id,
			size_t id_len)
{
	const char *h[] = {"X-File-Name: shelf.png", NULL};
	char rel[300], *fields;
	struct http_resp *r;
	size_t flen = strlen(ctype_json) + 64;

	r = http_do("POST", "/v1/files?kind=upload", t->owner.id_token, "image/png", data, n, h);
	cr_assert_eq(r->status, 201, "%.300s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "ready");
	snprintf(id, id_len, "%s", json_str(r, "id"));
	http_resp_free(r);
	snprintf(rel, sizeof(rel), "organizations/%s/files/%s", t->org, id);
	fields = malloc(flen);
	cr_assert_not_null(fields);
	snprintf(fields, flen, "{\"contentType\":{\"stringValue\":\"%s\"}}", ctype_json);
	fs_patch(rel, "contentType", fields);
	free(fields);
}

/*
 * Defect 3: a contentType of 127 characters (up to 508 bytes) reached the
 * response header writer, whose 512-byte buffer it overran: Content-Length
 * went past the buffer and stack bytes went to the client (the files
 * workers died: nginx's 503). A stored type with CR LF started a header of
 * the uploader's choosing. Whatever is stored, the download must be the
 * file, whole, from workers that live on. Since the files work, a stored
 * type off the allowlist goes out as application/octet-stream; what the
 * writer does with a value it cannot send (the contract's 500, nothing
 * written) is tests/lib/test_http's.
 */
Test(files, a_stored_content_type_of_any_length_or_bytes_never_breaks_the_download, .timeout = 180)
{
	struct tenant t;
	struct group_state before, after;
	double metric_before = restarts_metric("files");
	char *emoji = repeat(EMOJI, 117), *big = repeat("a", 5000), ctype[600], id[64], path[200];
	char *data = png_bytes(5000);
	const char *stored[] = {ctype, "image/png;\\r\\nX-Injected: yes", big};
	struct http_resp *r;

	snprintf(ctype, sizeof(ctype), "image/png;%s", emoji); /* 127 characters, 478 bytes */
	memcpy(big, "image/png;", 10);
	make_tenant(&t, "ctype");
	group_state("files", &before);
	for (size_t k = 0; k < sizeof(stored) / sizeof(stored[0]); k++) {
		stored_file(&t, stored[k], data, 5000, id, sizeof(id));
		snprintf(path, sizeof(path), "/v1/files/%s/content", id);
		for (int i = 0; i < 2; i++) {
			r = http_get(path, t.owner.id_token);
			cr_assert_eq(r->status, 200, "stored type %zu: %ld %.300s", k, r->status, r->body);
			cr_assert_str_eq(http_header(r, "Content-Type"), "application/octet-stream", "stored type %zu",
					 k);
			cr_assert_null(http_header(r, "X-Injected"), "no header from the stored type: %s", r->headers);
			cr_assert_str_eq(http_header(r, "Content-Length"), "5000");
			cr_assert_eq(r->len, 5000);
			cr_assert(memcmp(r->body, data, 5000) == 0, "the bytes come back unchanged");
			cr_assert_not_null(strstr(http_header(r, "Content-Disposition"), "attachment"));
			http_resp_free(r);
		}
	}
	group_state("files", &after);
	cr_assert_eq(after.pids[0], before.pids[0], "instance a of files is the same process");
	cr_assert_eq(after.pids[1], before.pids[1], "instance b of files is the same process");
	cr_assert_eq(after.restarts, before.restarts, "fluxorictl counts no restart of files");
	cr_assert_eq(restarts_metric("files"), metric_before, "/metrics counts no restart of files");
	free(emoji);
	free(big);
	free(data);
}

/* A JSON object of exactly n bytes: {"a":"xxx..."}. */
static char *json_of(size_t n)
{
	char *b = malloc(n + 1);

	cr_assert_not_null(b);
	cr_assert_geq(n, 8);
	memcpy(b, "{\"a\":\"", 6);
	memset(b + 6, 'x', n - 8);
	memcpy(b + n - 2, "\"}", 3);
	return b;
}

/* The answer is the contract's error, whole: a JSON body of exactly its Content-Length. */
static void assert_whole_error(struct http_resp *r, long code, const char *what)
{
	const char *cl = http_header(r, "Content-Length");

	cr_assert_eq(r->status, code, "%s: expected %ld, got %ld (0: the answer never came whole): %.200s", what, code,
		     r->status, r->body ? r->body : "");
	cr_assert_not_null(r->json, "%s: the body is the contract's JSON: %.200s", what, r->body);
	cr_assert_not_null(json_str(r, "error.status"), "%s: %.200s", what, r->body);
	if (cl)
		cr_assert_eq(r->len, strtoull(cl, NULL, 10), "%s: all of the announced body arrives", what);
}

/*
 * A worker that answers before it has read the request body (no token: 401;
 * a body over the route's cap but under nginx's: 413) used to close the
 * connection with the body unread. The kernel then resets the connection
 * and nginx loses the answer: bodies over libfcgi's 8 KiB buffer got the
 * status line and then nothing (the client waits out its timeout), and a
 * mebibyte and one byte to :complete (nginx lets 10 MiB through to files)
 * got the header and never the body. Every answer arrives whole.
 */
Test(early, an_answer_given_before_the_body_is_read_arrives_whole, .timeout = 240)
{
	static const size_t sizes[] = {8193, 9 * 1024, 12 * 1024, 18 * 1024, 100 * 1024, 1024 * 1024};
	static const char *const paths[] = {"/v1/reports", "/v1/users", "/v1/files:signUpload", "/v1/insights:generate",
					    "/v1/files/abc:complete"};
	struct tenant t;
	char what[200];
	struct http_resp *r;
	char *body;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		body = json_of(sizes[s]);
		for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
			snprintf(what, sizeof(what), "POST %s, %zu bytes, no token", paths[p], sizes[s]);
			r = http_do("POST", paths[p], NULL, "application/json", body, sizes[s], NULL);
			assert_whole_error(r, 401, what);
			http_resp_free(r);
		}
		free(body);
	}

	make_tenant(&t, "early");
	body = json_of(1024 * 1024 + 1);
	for (int i = 0; i < 3; i++) {
		r = http_do("POST", "/v1/files/abc:complete", t.owner.id_token, "application/json", body,
			    1024 * 1024 + 1, NULL);
		assert_whole_error(r, 413, "POST /v1/files/{id}:complete, 1 MiB + 1 byte");
		http_resp_free(r);
	}
	free(body);
}

/*
 * The same when the worker has read the body it was told of (Content-Length)
 * but not the empty record that ends the request's input: nginx may send it
 * after the body, and a close with it unread resets the connection. Many
 * bodies of 9 to 18 KiB, read and answered (the contract's 400 naming the
 * unknown field), each must arrive whole.
 */
Test(early, answers_to_bodies_read_to_their_length_arrive_whole, .timeout = 240)
{
	struct tenant t;
	char what[200];

	make_tenant(&t, "read");
	for (int i = 0; i < 200; i++) {
		size_t n = 9 * 1024 + (size_t)i * 47;
		char *body = json_of(n);
		struct http_resp *r =
			http_do("POST", "/v1/reports", t.owner.id_token, "application/json", body, n, NULL);

		snprintf(what, sizeof(what), "POST /v1/reports, %zu bytes", n);
		assert_whole_error(r, 400, what);
		http_resp_free(r);
		free(body);
	}
}

/*
 * Every answer is JSON, and JSON is UTF-8 (RFC 8259, section 8.1). An
 * unknown query parameter is named back in the 400, and a name that is not
 * UTF-8 (%FF) was sent back as its raw bytes: an answer a strict client
 * cannot parse. Bytes that are not UTF-8 are replaced in every error text.
 */
Test(utf8, an_error_naming_bytes_that_are_not_utf8_is_still_utf8, .timeout = 120)
{
	static const char *const paths[] = {
		"/v1/products?%FF=1",
		"/v1/orders?%C3%28=1",
		"/v1/products?pageSize=%ED%A0%80",
		"/v1/users?%F0%9F%98=1&%E2%82=2",
	};
	struct tenant t;

	make_tenant(&t, "utf8");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http_resp *r = http_get(paths[i], t.owner.id_token);

		cr_assert_eq(r->status, 400, "%s: %s", paths[i], r->body);
		cr_assert(fx_json_utf8_valid(r->body, r->len), "%s: the answer is UTF-8: %s", paths[i], r->body);
		cr_assert_str_eq(json_str(r, "error.status"), "INVALID_ARGUMENT", "%s", paths[i]);
		http_resp_free(r);
	}
}
