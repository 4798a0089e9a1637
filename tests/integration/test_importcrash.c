/*
 * The crash invariant of imports, through nginx: both instances of the
 * imports worker are killed with SIGKILL while an import commits its
 * groups (the supervisors restart them). Every row is then applied or not
 * (no product without its SKU index entry, no stock change without its
 * movement), the killed import's record stays running, and POSTing the
 * same file again completes it: the rows applied before the kill are
 * unchanged, a delta row is never applied twice. Alone in its file: it
 * kills a shared group, which other tests' imports would see.
 */
#include "audit.h"
#include "client.h"
#include "workerkill.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tenant {
	struct test_user owner;
	char id[64];
};

struct bg {
	const char *token, *file, *kind;
	struct http_resp *r;
};

static const char *upload(const struct tenant *t, const char *csv, size_t n)
{
	static char id[64];
	const char *h[] = {"X-File-Name: crash.csv", NULL};
	struct http_resp *r = http_do("POST", "/v1/files?kind=upload", t->owner.id_token, "text/csv", csv, n, h);

	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_str(r, "id"));
	http_resp_free(r);
	return id;
}

/* POST /v1/imports, waiting as long as nginx does for the imports group (300 s). */
static struct http_resp *import(const char *token, const char *file, const char *kind)
{
	char body[300], url[300], auth[4200];
	const char *h[] = {auth, "Content-Type: application/json", NULL};

	snprintf(body, sizeof(body), "{\"fileId\":\"%s\",\"kind\":\"%s\"}", file, kind);
	snprintf(url, sizeof(url), "%s/v1/imports", test_url());
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	return http_url_timeout("POST", url, h, body, strlen(body), 300000);
}

static void *bg_import(void *arg)
{
	struct bg *b = arg;

	b->r = import(b->token, b->file, b->kind);
	return NULL;
}

static size_t stored(const struct tenant *t, const char *collection)
{
	char rel[200];
	json_object *docs;
	size_t n;

	snprintf(rel, sizeof(rel), "organizations/%s/%s", t->id, collection);
	docs = fs_list(rel);
	n = json_object_array_length(docs);
	json_object_put(docs);
	return n;
}

/*
 * Waits until a commit the killed worker sent before it died has landed
 * (the emulator applies a commit whose client is gone): the stored counts
 * hold still for a second. A row that was torn would stay torn, so the
 * assertions after this still see it.
 */
static void settle(const struct tenant *t)
{
	size_t last[3] = {0, 0, 0}, now[3];

	for (time_t end = time(NULL) + 60; time(NULL) < end;) {
		now[0] = stored(t, "products");
		now[1] = stored(t, "skus");
		now[2] = stored(t, "importRows");
		if (memcmp(now, last, sizeof(now)) == 0)
			return;
		memcpy(last, now, sizeof(now));
		sleep(1);
	}
}

/*
 * Starts the import of file in a thread, waits until its record shows some
 * rows committed but not all, kills both imports instances, and waits for
 * the group to answer again. Returns the rows the record showed last.
 */
static long import_and_kill(const struct tenant *t, const char *file, const char *kind, long total)
{
	struct bg b = {t->owner.id_token, file, kind, NULL};
	pthread_t th;
	long rows = 0;
	char id[64] = "", path[200];

	cr_assert_eq(pthread_create(&th, NULL, bg_import, &b), 0);
	for (time_t end = time(NULL) + 300; time(NULL) < end && rows == 0;) {
		struct http_resp *r;

		usleep(50 * 1000);
		if (!id[0]) {
			r = http_get("/v1/imports", t->owner.id_token);
			for (int i = 0; r->status == 200 && i < 10; i++) {
				char key[40];
				const char *status, *fid;

				snprintf(key, sizeof(key), "data.%d.status", i);
				status = json_str(r, key);
				snprintf(key, sizeof(key), "data.%d.fileId", i);
				fid = json_str(r, key);
				if (!status)
					break;
				if (strcmp(status, "running") == 0 && fid && strcmp(fid, file) == 0) {
					snprintf(key, sizeof(key), "data.%d.id", i);
					snprintf(id, sizeof(id), "%s", json_str(r, key));
				}
			}
			http_resp_free(r);
			continue;
		}
		snprintf(path, sizeof(path), "/v1/imports/%s", id);
		r = http_get(path, t->owner.id_token);
		if (r->status == 200)
			rows = json_int(r, "counts.rows");
		http_resp_free(r);
	}
	cr_assert_gt(rows, 0, "the import committed rows before the kill");
	cr_assert_lt(rows, total, "the import was still running at the kill");
	workerkill_group("imports");
	pthread_join(th, NULL);
	cr_assert_neq(b.r->status, 201, "the killed import did not answer as finished: %s", b.r->body);
	http_resp_free(b.r);
	/* The group answers again once the supervisors have restarted it. */
	for (time_t end = time(NULL) + 120; time(NULL) < end;) {
		struct http_resp *r = http_get(path, t->owner.id_token);
		long status = r->status;

		if (status == 200)
			cr_assert_str_eq(json_str(r, "status"), "running", "the killed import's record stays running");
		http_resp_free(r);
		if (status == 200)
			break;
		usleep(200 * 1000);
	}
	fprintf(stderr, "%s import killed after %ld of %ld rows\n", kind, rows, total);
	return rows;
}

Test(importcrash, a_killed_import_leaves_rows_whole_and_running_it_again_completes_it, .timeout = 900)
{
	enum { PRODUCTS = 4000, DELTAS = 3000, TARGETS = 125 };
	struct tenant t;
	struct http_resp *r;
	struct audit au;
	size_t cap = PRODUCTS * 48, o = 0;
	char *csv = malloc(cap), file[64];
	long before;

	test_owner_signup(&t.owner, "crash", "Crash Shop", t.id, sizeof(t.id));

	/* Products: killed mid-way, every stored product has its SKU entry, the re-run creates the rest. */
	o += (size_t)snprintf(csv + o, cap - o, "sku,name,price\n");
	for (int i = 0; i < PRODUCTS; i++)
		o += (size_t)snprintf(csv + o, cap - o, "K-%05d,Crash item %d,%d.50\n", i, i, 1 + i % 90);
	snprintf(file, sizeof(file), "%s", upload(&t, csv, o));
	import_and_kill(&t, file, "products", PRODUCTS);
	settle(&t);
	cr_assert_eq(stored(&t, "products"), stored(&t, "skus"), "no product without its SKU entry, nor the reverse");
	before = (long)stored(&t, "products");
	r = import(t.owner.id_token, file, "products");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
	cr_assert_eq(json_int(r, "counts.created"), PRODUCTS - before, "%s", r->body);
	cr_assert_eq(json_int(r, "counts.unchanged"), before, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(stored(&t, "products"), PRODUCTS);
	cr_assert_eq(stored(&t, "skus"), PRODUCTS);

	/* Deltas: killed mid-way, the re-run applies each row exactly once. */
	o = (size_t)snprintf(csv, cap, "sku,delta,reason\n");
	for (int i = 0; i < DELTAS; i++)
		o += (size_t)snprintf(csv + o, cap - o, "K-%05d,1,received\n", i % TARGETS);
	snprintf(file, sizeof(file), "%s", upload(&t, csv, o));
	import_and_kill(&t, file, "stock", DELTAS);
	settle(&t);
	audit_org(t.id, &au); /* onHand = the sum of its movements, product by product */
	before = (long)au.on_hand;
	cr_assert_eq(au.movements, before, "one movement of +1 per applied row");
	r = import(t.owner.id_token, file, "stock");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
	cr_assert_eq(json_int(r, "counts.updated"), DELTAS - before, "%s", r->body);
	cr_assert_eq(json_int(r, "counts.unchanged"), before, "%s", r->body);
	http_resp_free(r);
	audit_org(t.id, &au);
	cr_assert_eq(au.on_hand, DELTAS, "every delta row applied exactly once");
	cr_assert_eq(au.movements, DELTAS);
	free(csv);
}
