/*
 * Jobs through nginx: Cloud Scheduler's OIDC tokens (minted here with the
 * test key, certificates served by a local endpoint), admins running jobs
 * for their own organization, leases, and what each job does to data seeded
 * through the API and, for deliberate corruption, straight into Firestore.
 */
#include "audit.h"
#include "buf.h"
#include "client.h"
#include "faultproxy.h"
#include "instance.h"
#include "testjwt.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AUDIENCE "https://api.fluxori.test"
#define SCHEDULER "scheduler@demo-fluxori.iam.gserviceaccount.com"

static struct testserver *certs;
static struct instance api;

/* An API instance that trusts the local certificate endpoint for Google's OIDC keys. */
static void setup(void)
{
	char extra[512];

	certs = test_cert_server();
	snprintf(extra, sizeof(extra),
		 "FLUXORI_OIDC_KEYS_URL=%s/certs\nFLUXORI_JOBS_AUDIENCE=" AUDIENCE
		 "\nFLUXORI_JOBS_SERVICE_ACCOUNTS=other@demo-fluxori.iam.gserviceaccount.com," SCHEDULER
		 "\nFLUXORI_LOG_LEVEL=INFO\n",
		 ts_url(certs));
	instance_start(&api, extra);
}

static void teardown(void)
{
	instance_stop(&api);
	ts_stop(certs);
}

TestSuite(jobs, .init = setup, .fini = teardown, .timeout = 120);

struct oidc {
	const char *aud;
	const char *email;
	bool verified;
	long exp_offset;
};

/* A Google-signed-style OIDC token (RS256 by libjwt, the test signer as Google's key "kid1"). */
static char *oidc_token(const struct oidc *o)
{
	char *pem = test_slurp(test_data("signer1.key.pem"));
	struct fx_buf payload;
	long now = (long)time(NULL);
	char *tok;

	fx_buf_init(&payload, 4096);
	cr_assert_eq(
		fx_buf_printf(
			&payload,
			"{\"iss\":\"https://accounts.google.com\",\"aud\":\"%s\",\"azp\":\"1137\",\"sub\":\"1137\","
			"\"email\":\"%s\",\"email_verified\":%s,\"iat\":%ld,\"exp\":%ld}",
			o->aud, o->email, o->verified ? "true" : "false", now - 10, now + o->exp_offset),
		0);
	tok = tj_mint(JWT_ALG_RS256, pem, "kid1", payload.data);
	free(pem);
	fx_buf_cleanup(&payload);
	return tok;
}

static struct http_resp *trigger(const char *job, const char *token)
{
	char url[200], auth[8192];
	const char *h[] = {auth, NULL};

	snprintf(url, sizeof(url), "%s/v1/jobs/%s", api.base, job);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	return http_url("POST", url, h, NULL, 0);
}

static struct http_resp *scheduler_run(const char *job)
{
	struct oidc o = {AUDIENCE, SCHEDULER, true, 3600};
	char *t = oidc_token(&o);
	struct http_resp *r = trigger(job, t);

	free(t);
	return r;
}

Test(jobs, scheduler_tokens_are_checked_like_google_does)
{
	static const struct {
		struct oidc o;
		long status;
		const char *why;
	} cases[] = {
		{{"https://elsewhere.test", SCHEDULER, true, 3600}, 401, "wrong audience"},
		{{AUDIENCE, "intruder@evil.test", true, 3600}, 403, "email not allowed"},
		{{AUDIENCE, SCHEDULER, false, 3600}, 401, "email not verified"},
		{{AUDIENCE, SCHEDULER, true, -400}, 401, "expired"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = oidc_token(&cases[i].o);
		struct http_resp *r = trigger("sync", t);

		cr_expect_eq(r->status, cases[i].status, "%s: %ld %s", cases[i].why, r->status, r->body);
		http_resp_free(r);
		free(t);
	}
}

/*
 * A sync over all organizations repairs every organization's drift, so it
 * must not run while another test of this file has drift in place on
 * purpose: tests that corrupt or sync everything hold this lock (tests run
 * as parallel processes; the lock dies with the process).
 */
static void sync_alone(void)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/jobs-sync.lock",
		 getenv("FLUXORI_TEST_RUN") ? getenv("FLUXORI_TEST_RUN") : "/tmp");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	cr_assert(fd >= 0 && flock(fd, LOCK_EX) == 0, "sync lock %s", path);
}

/*
 * Each jobs worker fetches Google's OIDC keys in its warm-up, right after
 * it is ready: the scheduler's first run fetches none.
 */
Test(jobs, the_jobs_workers_warm_the_scheduler_keys_before_the_first_run)
{
	static const char *const keys_ok[] = {"jobs warm-up in ", "scheduler keys ok", NULL};
	int warmed = instance_warmed_up(&api, keys_ok);
	struct http_resp *r;

	cr_assert_gt(warmed, 0, "no jobs worker warmed the scheduler's keys (%s/api.log)", api.run);
	cr_assert_eq(ts_count(certs), (unsigned)warmed, "one fetch per warm-up: %u fetches, %d warm-ups",
		     ts_count(certs), warmed);
	sync_alone();
	r = scheduler_run("sync");
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(ts_count(certs), (unsigned)warmed, "the first run fetched the keys again");
}

Test(jobs, the_scheduler_runs_a_job_for_all_organizations_and_it_is_recorded)
{
	struct http_resp *r;

	sync_alone();
	r = scheduler_run("sync");

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "job"), "sync");
	cr_assert_str_eq(json_str(r, "scope"), "all");
	cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
	cr_assert_str_eq(json_str(r, "triggeredBy"), SCHEDULER);
	cr_assert_not_null(json_str(r, "finishedAt"));
	http_resp_free(r);
	r = trigger("nonsense", "x");
	cr_assert(r->status == 401 || r->status == 404, "%ld", r->status);
	http_resp_free(r);
}

/* ---- an organization with data, through the main stack's API ---- */

struct tenant {
	struct test_user owner;
	char org[64];
};

static void make_tenant(struct tenant *t)
{
	test_owner_signup(&t->owner, "jobs", "Jobs", t->org, sizeof(t->org));
}

static char *product(const struct tenant *t, const char *sku, int stock, int reorder)
{
	char body[300], id[64];

	snprintf(body, sizeof(body),
		 "{\"sku\":\"%s\",\"name\":\"Item %s\",\"priceCents\":1000,\"status\":\"active\",\"stock\":{"
		 "\"reorderPoint\":%d}}",
		 sku, sku, reorder);
	test_product_stocked(t->owner.id_token, body, stock, id, sizeof(id));
	return strdup(id);
}

/* Writes fields (Firestore typed JSON) straight into the emulator: what a bug or a crash could leave. */
static void fs_patch(const char *rel, const char *mask, const char *fields)
{
	char url[600], body[4096];
	const char *h[] = {"Authorization: Bearer owner", "Content-Type: application/json", NULL};
	struct http_resp *r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/%s%s%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), rel, mask ? "?updateMask.fieldPaths=" : "", mask ? mask : "");
	snprintf(body, sizeof(body), "{\"fields\":%s}", fields);
	r = http_url("PATCH", url, h, body, strlen(body));
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

static long fs_status(const char *rel)
{
	char url[600];
	const char *h[] = {"Authorization: Bearer owner", NULL};

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/projects/demo-fluxori/databases/(default)/documents/%s",
		 test_env("FLUXORI_FIRESTORE_PORT"), rel);
	{
		struct http_resp *r = http_url("GET", url, h, NULL, 0);
		long s = r->status;

		http_resp_free(r);
		return s;
	}
}

static long long reserved_of(const struct tenant *t, const char *id)
{
	char path[200];
	struct http_resp *r;
	long long n;

	snprintf(path, sizeof(path), "/v1/products/%s", id);
	r = http_get(path, t->owner.id_token);
	n = json_int(r, "stock.reserved");
	http_resp_free(r);
	return n;
}

/* An order of 3 of product p through the stack, then p's reserved stock corrupted to 7 in Firestore. */
static void order_then_corrupt_reservation(const struct tenant *t, const char *p)
{
	char items[300], rel[300];
	struct http_resp *r;

	snprintf(items, sizeof(items),
		 "{\"customer\":{\"name\":\"A\"},\"shippingAddress\":{\"line1\":\"1\",\"city\":\"Cape Town\","
		 "\"province\":\"Western Cape\",\"postalCode\":\"8001\"},\"items\":[{\"productId\":\"%s\","
		 "\"quantity\":3}]}",
		 p);
	r = http_json("POST", "/v1/orders", t->owner.id_token, items);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	snprintf(rel, sizeof(rel), "organizations/%s/products/%s", t->org, p);
	fs_patch(rel, "stock.reserved",
		 "{\"stock\":{\"mapValue\":{\"fields\":{\"reserved\":{\"integerValue\":\"7\"}}}}}");
}

Test(jobs, sync_repairs_a_corrupted_reservation)
{
	struct tenant t;
	char *p;
	struct http_resp *r;

	sync_alone();
	make_tenant(&t);
	p = product(&t, "SYNC-1", 10, 0);
	order_then_corrupt_reservation(&t, p);
	cr_assert_eq(reserved_of(&t, p), 7, "the corruption is in place");

	r = trigger("sync", t.owner.id_token);
	cr_assert_eq(r->status, 200, "an admin runs sync for their organization: %s", r->body);
	cr_assert_str_eq(json_str(r, "scope"), "organization");
	cr_assert_eq(json_int(r, "summary.repaired"), 1, "%s", r->body);
	cr_assert_str_eq(json_str(r, "summary.repairs.0.productId"), p);
	cr_assert_eq(json_int(r, "summary.repairs.0.reservedWas"), 7);
	cr_assert_eq(json_int(r, "summary.repairs.0.reservedNow"), 3);
	http_resp_free(r);
	cr_assert_eq(reserved_of(&t, p), 3, "reserved equals what open orders hold again");
	r = trigger("sync", t.owner.id_token);
	cr_assert_eq(json_int(r, "summary.repaired"), 0, "a second run finds nothing: %s", r->body);
	http_resp_free(r);
	free(p);
}

Test(jobs, a_held_lease_refuses_an_overlapping_run_and_an_expired_one_does_not)
{
	struct tenant t;
	char rel[300], fields[300];
	struct http_resp *r;

	make_tenant(&t);
	snprintf(rel, sizeof(rel), "jobLeases/sync-%s", t.org);
	snprintf(fields, sizeof(fields),
		 "{\"runId\":{\"stringValue\":\"other-run\"},\"expiresAt\":{\"integerValue\":\"%ld\"}}",
		 (long)time(NULL) + 300);
	fs_patch(rel, NULL, fields);
	r = trigger("sync", t.owner.id_token);
	cr_assert_eq(r->status, 409, "%s", r->body);
	cr_assert_str_eq(json_str(r, "error.status"), "ABORTED");
	cr_assert_not_null(http_header(r, "Retry-After"));
	http_resp_free(r);
	/* The run that held it crashed long ago: its lease has expired. */
	snprintf(fields, sizeof(fields),
		 "{\"runId\":{\"stringValue\":\"other-run\"},\"expiresAt\":{\"integerValue\":\"%ld\"}}",
		 (long)time(NULL) - 5);
	fs_patch(rel, NULL, fields);
	r = trigger("sync", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(fs_status(rel), 404, "a finished run releases its lease");
}

struct race {
	const char *token;
	int ok, busy, other;
	pthread_mutex_t lock;
};

static void *race_sync(void *arg)
{
	struct race *x = arg;
	struct http_resp *r = trigger("sync", x->token);

	pthread_mutex_lock(&x->lock);
	if (r->status == 200)
		x->ok++;
	else if (r->status == 409)
		x->busy++;
	else
		x->other++;
	pthread_mutex_unlock(&x->lock);
	http_resp_free(r);
	return NULL;
}

Test(jobs, concurrent_triggers_never_run_twice_at_once)
{
	struct tenant t;
	struct race x = {0};
	pthread_t th[6];
	struct http_resp *r;
	json_object *data;

	make_tenant(&t);
	x.token = t.owner.id_token;
	pthread_mutex_init(&x.lock, NULL);
	for (int i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, race_sync, &x);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(x.other, 0, "every answer is 200 or 409 ABORTED");
	cr_assert_geq(x.ok, 1);
	cr_assert_eq(x.ok + x.busy, 6);
	{
		char url[200], auth[8192];
		const char *h[] = {auth, NULL};

		snprintf(url, sizeof(url), "%s/v1/jobs/runs?pageSize=50", api.base);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t.owner.id_token);
		r = http_url("GET", url, h, NULL, 0);
	}
	cr_assert_eq(r->status, 200, "%s", r->body);
	data = json_object_object_get(r->json, "data");
	/* Runs of this organization's sync never overlap in time. */
	for (size_t i = 0; i < json_object_array_length(data); i++)
		for (size_t j = i + 1; j < json_object_array_length(data); j++) {
			json_object *a = json_object_array_get_idx(data, i), *b = json_object_array_get_idx(data, j);
			const char *as = json_object_get_string(json_object_object_get(a, "startedAt"));
			const char *af = json_object_get_string(json_object_object_get(a, "finishedAt"));
			const char *bs = json_object_get_string(json_object_object_get(b, "startedAt"));
			const char *bf = json_object_get_string(json_object_object_get(b, "finishedAt"));

			if (strcmp(json_object_get_string(json_object_object_get(a, "scope")), "organization") != 0 ||
			    strcmp(json_object_get_string(json_object_object_get(b, "scope")), "organization") != 0)
				continue;
			cr_assert(strcmp(af, bs) <= 0 || strcmp(bf, as) <= 0, "runs %s..%s and %s..%s overlap", as, af,
				  bs, bf);
		}
	http_resp_free(r);
}

Test(jobs, cleanup_removes_exactly_what_is_stale)
{
	struct tenant t;
	char rel[300], fields[600];
	struct http_resp *r;
	long now = (long)time(NULL);
	char old[40], fresh[40];
	time_t o = now - 2 * 24 * 3600, f = now - 3600;

	make_tenant(&t);
	strftime(old, sizeof(old), "%Y-%m-%dT%H:%M:%SZ", gmtime(&o));
	strftime(fresh, sizeof(fresh), "%Y-%m-%dT%H:%M:%SZ", gmtime(&f));
#define FILE_DOC(id, when, status)                                                                                  \
	snprintf(rel, sizeof(rel), "organizations/%s/files/%s", t.org, id);                                         \
	snprintf(fields, sizeof(fields),                                                                            \
		 "{\"organizationId\":{\"stringValue\":\"%s\"},\"status\":{\"stringValue\":\"%s\"},\"createdAt\":{" \
		 "\"timestampValue\":\"%s\"},\"object\":{\"stringValue\":\"orgs/%s/upload/%s/x.csv\"}}",            \
		 t.org, status, when, t.org, id);                                                                   \
	fs_patch(rel, NULL, fields)
	FILE_DOC("stalePending", old, "pending");
	FILE_DOC("freshPending", fresh, "pending");
	FILE_DOC("oldReady", old, "ready");
#undef FILE_DOC
	snprintf(rel, sizeof(rel), "organizations/%s/idempotency/expiredKey", t.org);
	snprintf(fields, sizeof(fields),
		 "{\"organizationId\":{\"stringValue\":\"%s\"},\"expiresAt\":{\"integerValue\":\"%ld\"}}", t.org,
		 now - 10);
	fs_patch(rel, NULL, fields);
	snprintf(rel, sizeof(rel), "organizations/%s/idempotency/liveKey", t.org);
	snprintf(fields, sizeof(fields),
		 "{\"organizationId\":{\"stringValue\":\"%s\"},\"expiresAt\":{\"integerValue\":\"%ld\"}}", t.org,
		 now + 3600);
	fs_patch(rel, NULL, fields);
	/* Applied delta rows' records: kept 90 days (docs/imports.md), then removed. */
#define ROW_DOC(id, secs_ago)                                                                                  \
	snprintf(rel, sizeof(rel), "organizations/%s/importRows/%s", t.org, id);                               \
	snprintf(fields, sizeof(fields),                                                                       \
		 "{\"organizationId\":{\"stringValue\":\"%s\"},\"importId\":{\"stringValue\":\"someImport\"}," \
		 "\"row\":{\"integerValue\":\"2\"},\"delta\":{\"integerValue\":\"5\"}}",                       \
		 t.org);                                                                                       \
	fs_patch(rel, NULL, fields);                                                                           \
	fs_write_time(rel, "at", now - (secs_ago))
	ROW_DOC("oldRow", 91L * 24 * 3600);
	ROW_DOC("keptRow", 89L * 24 * 3600);
#undef ROW_DOC

	r = trigger("cleanup", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.staleUploadsRemoved"), 1, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.idempotencyKeysRemoved"), 1, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.importRowsRemoved"), 1, "%s", r->body);
	http_resp_free(r);
#define EXISTS(id, coll, want)                                                 \
	snprintf(rel, sizeof(rel), "organizations/%s/%s/%s", t.org, coll, id); \
	cr_assert_eq(fs_status(rel), want, "%s/%s", coll, id)
	EXISTS("stalePending", "files", 404);
	EXISTS("freshPending", "files", 200);
	EXISTS("oldReady", "files", 200);
	EXISTS("expiredKey", "idempotency", 404);
	EXISTS("liveKey", "idempotency", 200);
	EXISTS("oldRow", "importRows", 404);
	EXISTS("keptRow", "importRows", 200);
#undef EXISTS
	r = trigger("cleanup", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_leq(json_int(r, "summary.staleUploadsRemoved"), 0, "a second run removes nothing: %s", r->body);
	http_resp_free(r);
}

/*
 * An import record as lib/importer writes it, straight into the emulator:
 * what a worker killed mid-import (test_importcrash) leaves when status is
 * running, its last progress at (RFC 3339).
 */
static void import_doc(const struct tenant *t, const char *id, const char *status, bool dry, const char *at)
{
	char rel[300], fields[2048];

	snprintf(rel, sizeof(rel), "organizations/%s/imports/%s", t->org, id);
	snprintf(fields, sizeof(fields),
		 "{\"organizationId\":{\"stringValue\":\"%s\"},\"kind\":{\"stringValue\":\"products\"},"
		 "\"mode\":{\"stringValue\":\"upsert\"},\"fileId\":{\"stringValue\":\"crashedFile\"},"
		 "\"fileSha256\":{\"stringValue\":\"%064d\"},\"dryRun\":{\"booleanValue\":%s},"
		 "\"status\":{\"stringValue\":\"%s\"},\"counts\":{\"mapValue\":{\"fields\":{"
		 "\"rows\":{\"integerValue\":\"250\"},\"created\":{\"integerValue\":\"250\"},"
		 "\"updated\":{\"integerValue\":\"0\"},\"unchanged\":{\"integerValue\":\"0\"},"
		 "\"failed\":{\"integerValue\":\"0\"}}}},\"createdBy\":{\"stringValue\":\"%s\"},"
		 "\"startedAt\":{\"timestampValue\":\"%s\"},\"updatedAt\":{\"timestampValue\":\"%s\"}%s%s%s}",
		 t->org, 7, dry ? "true" : "false", status, t->owner.uid, at, at,
		 strcmp(status, "running") ? ",\"finishedAt\":{\"timestampValue\":\"" : "",
		 strcmp(status, "running") ? at : "", strcmp(status, "running") ? "\"}" : "");
	fs_patch(rel, NULL, fields);
}

/* The stored record's fields as JSON text (malloc'd), to see that nothing wrote it. */
static char *import_text(const struct tenant *t, const char *id)
{
	char rel[300];
	json_object *doc;
	char *s;

	snprintf(rel, sizeof(rel), "organizations/%s/imports/%s", t->org, id);
	doc = fs_read(rel);
	cr_assert_not_null(doc, "%s", rel);
	s = strdup(json_object_to_json_string(json_object_object_get(doc, "fields")));
	json_object_put(doc);
	return s;
}

/* import.finished events of the organization's outbox about import id. */
static int finished_events(const struct tenant *t, const char *id, const char *status)
{
	char rel[300];
	json_object *docs;
	int n = 0;

	snprintf(rel, sizeof(rel), "organizations/%s/outbox", t->org);
	docs = fs_list(rel);
	for (size_t i = 0; i < json_object_array_length(docs); i++) {
		json_object *d = json_object_array_get_idx(docs, i);
		const char *type = fs_str(d, "payload.type"), *about = fs_str(d, "payload.data.id");
		if (type && strcmp(type, "import.finished") == 0 && about && strcmp(about, id) == 0) {
			cr_assert_str_eq(fs_str(d, "payload.data.status"), status);
			cr_assert_eq(fs_int(d, "payload.data.counts.rows"), 250);
			cr_assert_str_eq(fs_str(d, "payload.data.kind"), "products");
			cr_assert_null(fs_field(d, "payload.data.fileSha256"), "hidden fields stay hidden");
			n++;
		}
	}
	json_object_put(docs);
	return n;
}

/*
 * A worker killed mid-import left its record running for ever (issue 16's
 * known limit). The cleanup ends a record that has not progressed for an
 * hour as failed, saying why in its errors file, with import.finished for a
 * real import; a running import that progressed recently, and a finished
 * one, are not touched.
 */
Test(jobs, cleanup_fails_an_import_that_stopped_progressing_and_leaves_a_live_one)
{
	struct tenant t;
	char old[40], recent[40], path[300], *live_before, *done_before, *s;
	long now = (long)time(NULL);
	time_t o = now - 2 * 3600, f = now - 120;
	struct http_resp *r;
	long long ended;

	make_tenant(&t);
	strftime(old, sizeof(old), "%Y-%m-%dT%H:%M:%SZ", gmtime(&o));
	strftime(recent, sizeof(recent), "%Y-%m-%dT%H:%M:%SZ", gmtime(&f));
	import_doc(&t, "staleImport", "running", false, old);
	import_doc(&t, "staleDryRun", "running", true, old);
	import_doc(&t, "liveImport", "running", false, recent);
	import_doc(&t, "oldFinished", "succeeded", false, old);
	live_before = import_text(&t, "liveImport");
	done_before = import_text(&t, "oldFinished");

	r = trigger("cleanup", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	ended = json_int(r, "summary.staleImportsFailed");
	http_resp_free(r);

	r = http_get("/v1/imports/staleImport", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_str(r, "status"), "failed", "the stale import ends: %s", r->body);
	cr_assert_eq(ended, 2, "the run counts the stale import and the stale dry run");
	cr_assert_not_null(json_str(r, "finishedAt"), "%s", r->body);
	cr_assert_eq(json_int(r, "counts.rows"), 250, "the counts of what was applied stay: %s", r->body);
	cr_assert_not_null(json_str(r, "errorsFileId"), "%s", r->body);
	snprintf(path, sizeof(path), "/v1/files/%s/content", json_str(r, "errorsFileId"));
	http_resp_free(r);
	r = http_get(path, t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	s = strndup(r->body, r->len);
	cr_assert_not_null(strstr(s, "row,sku,field,reason"), "%s", s);
	cr_assert_not_null(strstr(s, "stopped after 250 rows"), "the errors file says why: %s", s);
	old[strlen(old) - 1] = '\0'; /* the message shows milliseconds before the Z */
	cr_assert_not_null(strstr(s, old), "and since when: %s", s);
	cr_assert_not_null(strstr(s, "post the same file again"), "and what to do: %s", s);
	free(s);
	http_resp_free(r);
	cr_assert_eq(finished_events(&t, "staleImport", "failed"), 1, "a real import's end is an event");

	r = http_get("/v1/imports/staleDryRun", t.owner.id_token);
	cr_assert_str_eq(json_str(r, "status"), "failed", "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(finished_events(&t, "staleDryRun", "failed"), 0, "a dry run's end is no event");

	s = import_text(&t, "liveImport");
	cr_assert_str_eq(s, live_before, "a running import that progressed recently is not touched");
	free(s);
	s = import_text(&t, "oldFinished");
	cr_assert_str_eq(s, done_before, "a finished import is not touched");
	free(s);
	r = http_get("/v1/imports/liveImport", t.owner.id_token);
	cr_assert_str_eq(json_str(r, "status"), "running", "%s", r->body);
	http_resp_free(r);

	r = trigger("cleanup", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.staleImportsFailed"), 0, "a second run ends nothing more: %s", r->body);
	http_resp_free(r);
	cr_assert_eq(finished_events(&t, "staleImport", "failed"), 1, "and sends no second event");
	free(live_before);
	free(done_before);
}

/* The job runs an organization's admin sees (its own runs and its parts of runs over all) of job. */
static int runs_of(const struct tenant *t, const char *job)
{
	struct http_resp *r = http_get("/v1/jobs/runs?pageSize=200", t->owner.id_token);
	json_object *data;
	int n = 0;

	cr_assert_eq(r->status, 200, "%s", r->body);
	data = json_object_object_get(r->json, "data");
	for (size_t k = 0; k < json_object_array_length(data); k++) {
		json_object *v = json_object_object_get(json_object_array_get_idx(data, k), "job");
		n += v && strcmp(json_object_get_string(v), job) == 0;
	}
	http_resp_free(r);
	return n;
}

/*
 * channel-push runs over every organization every minute: an organization
 * with nothing to push (here: no channel at all) gets no job-run document
 * of its own, or it would get 1,440 a day; the whole run still counts it.
 */
Test(jobs, channel_push_records_no_part_for_an_organization_with_nothing_to_push)
{
	struct tenant t;
	struct http_resp *r;
	int n;

	make_tenant(&t);
	for (int i = 0; i < 2; i++) {
		r = scheduler_run("channel-push");
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_str_eq(json_str(r, "status"), "succeeded", "%s", r->body);
		cr_assert_geq(json_int(r, "summary.organizations"), 1, "the whole run counts it: %s", r->body);
		http_resp_free(r);
	}
	n = runs_of(&t, "channel-push");
	cr_assert_eq(n, 0, "two runs over all left %d channel-push records of an idle organization", n);
	/* Its admin's own run is still recorded: it was asked for. */
	r = trigger("channel-push", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(runs_of(&t, "channel-push"), 1);
}

Test(jobs, inventory_check_creates_insights_once)
{
	struct tenant t;
	struct http_resp *r;
	char *low;
	long n1;

	make_tenant(&t);
	low = product(&t, "LOW-1", 2, 5);
	free(product(&t, "OK-1", 50, 5));
	r = trigger("inventory-check", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/insights?type=low_stock", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	n1 = (long)json_object_array_length(json_object_object_get(r->json, "data"));
	cr_assert_eq(n1, 1, "one low-stock insight: %s", r->body);
	cr_assert_str_eq(json_str(r, "data.0.productId"), low);
	http_resp_free(r);
	r = trigger("inventory-check", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
	r = http_get("/v1/insights?type=low_stock", t.owner.id_token);
	cr_assert_eq((long)json_object_array_length(json_object_object_get(r->json, "data")), 1,
		     "running it again creates no duplicate: %s", r->body);
	http_resp_free(r);
	free(low);
}

Test(jobs, staff_cannot_run_jobs)
{
	struct tenant t;
	struct test_user s;
	char body[300];
	struct http_resp *r;

	make_tenant(&t);
	cr_assert_eq(test_user_signup(&s, "jobstaff"), 0);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"staff\"}", s.email);
	r = http_json("POST", "/v1/users", t.owner.id_token, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&s), 0);
	r = trigger("sync", s.id_token);
	cr_assert_eq(r->status, 403, "%s", r->body);
	http_resp_free(r);
}

/* ---- tenancy of job runs (issue 12, defect 10) ---- */

/*
 * Two organizations with different figures; Cloud Scheduler syncs all of
 * them. Each admin sees their own runs and, of the run over all
 * organizations, only their organization's part: their own figures, never
 * another organization's or the platform's totals.
 */
Test(jobs, an_admin_sees_only_their_organizations_part_of_a_run_over_all)
{
	struct tenant a, b;
	const struct tenant *t[2] = {&a, &b};
	const long products[2] = {1, 2};
	struct http_resp *r;
	char platform[64];

	sync_alone();
	make_tenant(&a);
	make_tenant(&b);
	free(product(&a, "A-1", 5, 0));
	free(product(&b, "B-1", 5, 0));
	free(product(&b, "B-2", 5, 0));
	r = trigger("sync", b.owner.id_token);
	cr_assert_eq(r->status, 200, "B's admin runs sync for B: %s", r->body);
	http_resp_free(r);
	r = scheduler_run("sync");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_geq(json_int(r, "summary.organizations"), 2, "the scheduler's own record covers all: %s", r->body);
	snprintf(platform, sizeof(platform), "%s", json_str(r, "id"));
	http_resp_free(r);

	for (int i = 0; i < 2; i++) {
		json_object *data;
		int parts = 0, own = 0;

		r = http_get("/v1/jobs/runs?pageSize=200", t[i]->owner.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		data = json_object_object_get(r->json, "data");
		for (size_t k = 0; k < json_object_array_length(data); k++) {
			json_object *run = json_object_array_get_idx(data, k), *v, *summary;
			const char *org = json_object_object_get_ex(run, "organizationId", &v)
						  ? json_object_get_string(v)
						  : "(none)";
			const char *scope = json_object_get_string(json_object_object_get(run, "scope"));

			cr_assert_str_eq(org, t[i]->org, "admin %d sees only their organization's records: %s", i,
					 json_object_to_json_string(run));
			summary = json_object_object_get(run, "summary");
			if (strcmp(scope, "organization") == 0) {
				own++;
				continue;
			}
			cr_assert_str_eq(json_object_get_string(json_object_object_get(run, "runId")), platform,
					 "a part names the run it belongs to: %s", json_object_to_json_string(run));
			parts++;
			cr_assert_eq(json_object_get_int64(json_object_object_get(summary, "organizations")), 1,
				     "one organization's part: %s", json_object_to_json_string(run));
			cr_assert_eq(json_object_get_int64(json_object_object_get(summary, "productsChecked")),
				     products[i], "its own figures: %s", json_object_to_json_string(run));
			v = json_object_object_get(run, "errors");
			cr_assert(!v || json_object_array_length(v) == 0, "no failures: %s",
				  json_object_to_json_string(run));
		}
		cr_assert_eq(parts, 1, "admin %d sees their part of the scheduler's run once: %s", i, r->body);
		cr_assert_eq(own, i == 1 ? 1 : 0, "and their own organization's runs: %s", r->body);
		http_resp_free(r);
	}
}

/* ---- a stale import's importer that writes while the cleanup decides ---- */

/* The fault proxy between the API instance of a proxied_* test and one emulator. */
static struct faultproxy *proxy;

/*
 * Starts proxy in front of the emulator on port_env's port, then an API
 * instance told by the variable host_var (its value: scheme, then the
 * proxy's address) to reach that emulator through the proxy.
 */
static void proxied_start(const char *port_env, const char *host_var, const char *scheme)
{
	char extra[256];

	proxy = fp_start(atoi(test_env(port_env)));
	snprintf(extra, sizeof(extra), "%s=%s127.0.0.1:%d\n", host_var, scheme, fp_port(proxy));
	instance_start(&api, extra);
}

static void proxied_stop(void)
{
	instance_stop(&api);
	fp_stop(proxy);
}

/* An API instance whose Firestore calls go through the fault proxy. */
static void race_setup(void)
{
	proxied_start("FLUXORI_FIRESTORE_PORT", "FIRESTORE_EMULATOR_HOST", "");
}

struct cleanup_run {
	const char *token;
	struct http_resp *r;
};

static void *run_cleanup(void *arg)
{
	struct cleanup_run *c = arg;

	c->r = trigger("cleanup", c->token);
	return NULL;
}

/*
 * Starts t's cleanup on *th (its answer lands in c->r) with the proxy
 * holding the first request that names the import record id (the cleanup's
 * commit of it); returns once that request is held.
 */
static void cleanup_held_at(const struct tenant *t, const char *id, struct cleanup_run *c, pthread_t *th)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "imports/%s", id);
	fp_arm(proxy, needle, FP_STALL);
	c->token = t->owner.id_token;
	cr_assert_eq(pthread_create(th, NULL, run_cleanup, c), 0);
	for (time_t end = time(NULL) + 120; time(NULL) < end && !(fp_fired(proxy) && fp_held(proxy) > 0);)
		usleep(20 * 1000);
	cr_assert(fp_fired(proxy) && fp_held(proxy) > 0, "the cleanup's commit of the record is held");
}

/*
 * The cleanup read a record that looked stale and is about to end it when
 * the importer, alive after all, writes its progress: the cleanup's commit
 * (held by the proxy until that write is in) carries the updateTime it
 * read, so it fails, and the record stays the importer's: running, with its
 * progress; the errors file the cleanup had stored is gone, no event sent.
 */
Test(stalecleanup, an_import_that_progresses_while_the_cleanup_decides_stays_running, .init = race_setup,
     .fini = proxied_stop, .timeout = 180)
{
	struct tenant t;
	struct cleanup_run c = {0};
	pthread_t th;
	char old[40], fresh[40], rel[300], fields[200];
	long now = (long)time(NULL);
	time_t o = now - 2 * 3600, f = now;
	json_object *doc, *files;

	make_tenant(&t);
	strftime(old, sizeof(old), "%Y-%m-%dT%H:%M:%SZ", gmtime(&o));
	strftime(fresh, sizeof(fresh), "%Y-%m-%dT%H:%M:%SZ", gmtime(&f));
	import_doc(&t, "raceImport", "running", false, old);
	/* The cleanup's write of this record is the first request naming it. */
	cleanup_held_at(&t, "raceImport", &c, &th);
	/* The importer's progress, straight into the emulator (not through the proxy). */
	snprintf(rel, sizeof(rel), "organizations/%s/imports/raceImport", t.org);
	snprintf(fields, sizeof(fields), "{\"updatedAt\":{\"timestampValue\":\"%s\"}}", fresh);
	fs_patch(rel, "updatedAt", fields);
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	pthread_join(th, NULL);
	cr_assert_eq(c.r->status, 200, "%s", c.r->body);
	cr_assert_eq(json_int(c.r, "summary.staleImportsFailed"), 0, "%s", c.r->body);
	http_resp_free(c.r);

	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "running", "the importer's record is not ended");
	cr_assert_null(fs_field(doc, "finishedAt"));
	cr_assert_null(fs_field(doc, "errorsFileId"));
	json_object_put(doc);
	snprintf(rel, sizeof(rel), "organizations/%s/files", t.org);
	files = fs_list(rel);
	cr_assert_eq(json_object_array_length(files), 0, "the unused errors file is removed: %s",
		     json_object_to_json_string(files));
	json_object_put(files);
	cr_assert_eq(finished_events(&t, "raceImport", "failed"), 0, "no event");
}

/*
 * The cleanup's commit ending a stale record fails for another reason than
 * its precondition: its connection resets (the proxy holds the commit,
 * then resets it, its bytes dropped; Firestore is back right after). Whether or not a commit whose answer is lost was applied, the
 * errors file the cleanup stored must not outlive an end that did not
 * happen: either the record stays running and no file is left, or the
 * record ended (a client-side retry can carry the commit through once the
 * proxy passes again) naming the only file. Then the next run leaves
 * exactly one errors file, the one the ended record names.
 */
Test(stalecleanup, a_commit_that_fails_otherwise_leaves_no_errors_file_behind, .init = race_setup, .fini = proxied_stop,
     .timeout = 180)
{
	struct tenant t;
	struct cleanup_run c = {0};
	pthread_t th;
	char old[40], rel[300], files_rel[300];
	time_t o = time(NULL) - 2 * 3600;
	json_object *doc, *files;
	struct http_resp *r;
	bool ended;

	make_tenant(&t);
	strftime(old, sizeof(old), "%Y-%m-%dT%H:%M:%SZ", gmtime(&o));
	import_doc(&t, "resetImport", "running", false, old);
	cleanup_held_at(&t, "resetImport", &c, &th);
	/* The held commit's connection resets, its bytes dropped; then Firestore is back. */
	cr_assert_eq(fp_set(proxy, FP_RESET, 0), 0);
	for (time_t end = time(NULL) + 60; time(NULL) < end && fp_held(proxy) > 0;)
		usleep(1000);
	cr_assert_eq(fp_held(proxy), 0, "the held commit was reset");
	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	pthread_join(th, NULL);
	cr_assert_eq(c.r->status, 200, "%s", c.r->body);
	ended = json_int(c.r, "summary.staleImportsFailed") == 1;
	cr_assert_eq(json_int(c.r, "summary.organizationsFailed"), ended ? 0 : 1, "%s", c.r->body);
	http_resp_free(c.r);

	snprintf(rel, sizeof(rel), "organizations/%s/imports/resetImport", t.org);
	snprintf(files_rel, sizeof(files_rel), "organizations/%s/files", t.org);
	doc = fs_read(rel);
	files = fs_list(files_rel);
	if (ended) {
		cr_assert_str_eq(fs_str(doc, "status"), "failed", "the run counted it ended");
		cr_assert_eq(json_object_array_length(files), 1, "%s", json_object_to_json_string(files));
	} else {
		cr_assert_str_eq(fs_str(doc, "status"), "running", "the commit did not happen");
		cr_assert_null(fs_field(doc, "errorsFileId"));
		cr_assert_eq(json_object_array_length(files), 0, "no errors file naming an end that did not happen: %s",
			     json_object_to_json_string(files));
		cr_assert_eq(finished_events(&t, "resetImport", "failed"), 0, "no event");
	}
	json_object_put(files);
	json_object_put(doc);

	/* The next run ends it if it is not yet: one errors file in all, the one the record names, one event. */
	r = trigger("cleanup", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.staleImportsFailed"), ended ? 0 : 1, "%s", r->body);
	http_resp_free(r);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "failed");
	files = fs_list(files_rel);
	cr_assert_eq(json_object_array_length(files), 1, "%s", json_object_to_json_string(files));
	cr_assert_str_eq(json_object_get_string(json_object_object_get(json_object_array_get_idx(files, 0), "id")),
			 fs_str(doc, "errorsFileId"));
	json_object_put(files);
	json_object_put(doc);
	cr_assert_eq(finished_events(&t, "resetImport", "failed"), 1, "one event");
}

/* ---- Cloud Storage down while a stale import's errors file is stored ---- */

/* An API instance whose Cloud Storage calls go through the fault proxy. */
static void storage_setup(void)
{
	proxied_start("FLUXORI_STORAGE_PORT", "STORAGE_EMULATOR_HOST", "http://");
}

/*
 * Storage refuses every connection while the cleanup stores a stale
 * import's errors file: the record is not ended without it (still running,
 * no errorsFileId, no event), the run says the organization failed, and no
 * ready file is left (a pending one may stay: Storage cannot say whether
 * its bytes arrived, and the stale-uploads cleanup removes it). Storage
 * back, the next run ends the record naming the one ready errors file.
 */
Test(stalestorage, storage_down_while_the_errors_file_is_stored_ends_nothing_until_it_is_back, .init = storage_setup,
     .fini = proxied_stop, .timeout = 240)
{
	struct tenant t;
	char old[40], rel[300], files_rel[300];
	time_t o = time(NULL) - 2 * 3600;
	json_object *doc, *files;
	struct http_resp *r;
	size_t ready = 0;

	make_tenant(&t);
	strftime(old, sizeof(old), "%Y-%m-%dT%H:%M:%SZ", gmtime(&o));
	import_doc(&t, "noStorageImport", "running", false, old);
	cr_assert_eq(fp_set(proxy, FP_DROP, 0), 0);
	r = trigger("cleanup", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.organizationsFailed"), 1, "%s", r->body);
	cr_assert_leq(json_int(r, "summary.staleImportsFailed"), 0, "%s", r->body);
	http_resp_free(r);
	snprintf(rel, sizeof(rel), "organizations/%s/imports/noStorageImport", t.org);
	snprintf(files_rel, sizeof(files_rel), "organizations/%s/files", t.org);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "running", "not ended without its errors file");
	cr_assert_null(fs_field(doc, "errorsFileId"));
	json_object_put(doc);
	files = fs_list(files_rel);
	for (size_t i = 0; i < json_object_array_length(files); i++)
		cr_assert_str_eq(fs_str(json_object_array_get_idx(files, i), "status"), "pending",
				 "no ready file for an end that did not happen: %s", json_object_to_json_string(files));
	json_object_put(files);
	cr_assert_eq(finished_events(&t, "noStorageImport", "failed"), 0, "no event");

	cr_assert_eq(fp_set(proxy, FP_PASS, 0), 0);
	r = trigger("cleanup", t.owner.id_token);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r, "summary.staleImportsFailed"), 1, "%s", r->body);
	http_resp_free(r);
	doc = fs_read(rel);
	cr_assert_str_eq(fs_str(doc, "status"), "failed");
	files = fs_list(files_rel);
	for (size_t i = 0; i < json_object_array_length(files); i++) {
		json_object *f = json_object_array_get_idx(files, i);

		if (strcmp(fs_str(f, "status"), "ready") == 0) {
			ready++;
			cr_assert_str_eq(json_object_get_string(json_object_object_get(f, "id")),
					 fs_str(doc, "errorsFileId"), "the ready file is the one the record names");
		}
	}
	cr_assert_eq(ready, 1, "%s", json_object_to_json_string(files));
	json_object_put(files);
	json_object_put(doc);
	cr_assert_eq(finished_events(&t, "noStorageImport", "failed"), 1, "one event");
}

/* ---- sync under contention, on the main stack (an admin's own run) ---- */

struct adjuster {
	const struct tenant *t;
	const char *product;
};

static void *adjust_once(void *arg)
{
	struct adjuster *a = arg;
	char path[200];
	struct http_resp *r;

	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", a->product);
	r = http_json("POST", path, a->t->owner.id_token, "{\"delta\":1,\"reason\":\"received\"}");
	http_resp_free(r);
	return NULL;
}

/* Lines of the main stack's worker log that contain text. */
static int log_lines_with(const char *text)
{
	char path[600], line[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/workers.log", getenv("FLUXORI_TEST_RUN"));
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/*
 * sync's transaction body logged each repair as it computed it, in every
 * attempt, also in attempts that then aborted (stock adjustments of the same
 * product commit meanwhile and Firestore answers ABORTED): the log said
 * "repaired" more often than anything was repaired. Only what committed is
 * logged and counted: in each round the run repairs the product once, and
 * the log says so once.
 */
Test(sync, only_committed_repairs_are_logged_and_counted, .timeout = 240)
{
	struct tenant t;
	int rounds = 10;

	sync_alone();
	make_tenant(&t);
	for (int round = 0; round < rounds; round++) {
		char sku[32], needle[120];
		struct adjuster a = {&t, NULL};
		pthread_t th[12];
		struct http_resp *r;
		char *p;

		snprintf(sku, sizeof(sku), "LOG-%d", round);
		p = product(&t, sku, 100, 0);
		a.product = p;
		order_then_corrupt_reservation(&t, p);
		for (int i = 0; i < 12; i++)
			pthread_create(&th[i], NULL, adjust_once, &a);
		r = http_json("POST", "/v1/jobs/sync", t.owner.id_token, NULL);
		for (int i = 0; i < 12; i++)
			pthread_join(th[i], NULL);
		cr_assert_eq(r->status, 200, "round %d: %s", round, r->body);
		cr_assert_eq(json_int(r, "summary.repaired"), 1, "round %d: one product drifted: %s", round, r->body);
		cr_assert_str_eq(json_str(r, "summary.repairs.0.productId"), p);
		http_resp_free(r);
		cr_assert_eq(reserved_of(&t, p), 3, "round %d: repaired", round);
		snprintf(needle, sizeof(needle), "product %s reserved 7, open orders hold 3: repaired", p);
		cr_assert_eq(log_lines_with(needle), 1,
			     "round %d: the log tells of the one repair once, not per attempt", round);
		free(p);
	}
}
