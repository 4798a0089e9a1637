/*
 * /metrics through nginx's internal listener: counters move by exactly the
 * requests made, verified tokens are served from the cache, connections to
 * Google (here the Firestore emulator) are reused, and the public listener
 * does not expose the endpoint. Tests of this file run in parallel, so each
 * reads counters that no other test here moves.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(metrics, is_served_in_prometheus_text_on_the_internal_listener_only)
{
	struct http_resp *r = test_metrics_scrape(), *pub;

	cr_expect(strncmp(http_header(r, "Content-Type"), "text/plain; version=0.0.4", 25) == 0);
	cr_expect_not_null(strstr(r->body, "# TYPE fluxori_requests_total counter\n"));
	cr_expect_not_null(strstr(r->body, "# TYPE fluxori_request_duration_seconds histogram\n"));
	cr_expect_not_null(strstr(r->body, "fluxori_worker_processes{group=\"products\"} "));
	http_resp_free(r);
	pub = http_get("/metrics", NULL);
	cr_expect_eq(pub->status, 404, "the public listener has no /metrics: %ld", pub->status);
	cr_expect_str_eq(json_str(pub, "error.status"), "NOT_FOUND");
	http_resp_free(pub);
}

Test(metrics, requests_are_counted_by_group_route_and_status)
{
	const char *ok = "fluxori_requests_total{group=\"health\",route=\"GET /health\",status=\"200\"}";
	const char *count = "fluxori_request_duration_seconds_count{group=\"health\",route=\"GET /health\"}";
	const char *missing = "fluxori_requests_total{group=\"organizations\",route=\"unmatched\",status=\"404\"}";
	double ok0 = test_metric(ok), count0 = test_metric(count), missing0 = test_metric(missing);

	for (int i = 0; i < 25; i++)
		http_resp_free(http_get("/health", NULL));
	for (int i = 0; i < 3; i++)
		http_resp_free(http_get("/v1/organizations/x/no/such/route", NULL));
	cr_expect_eq(test_metric(ok) - ok0, 25);
	cr_expect_eq(test_metric(count) - count0, 25);
	cr_expect_eq(test_metric(missing) - missing0, 3);
}

Test(metrics, a_verified_token_is_served_from_the_cache)
{
	const char *hit = "fluxori_token_cache_total{group=\"users\",result=\"hit\"}";
	const char *miss = "fluxori_token_cache_total{group=\"users\",result=\"miss\"}";
	struct test_user u;
	double hit0, miss0, misses;

	cr_assert_eq(test_user_signup(&u, "metrics"), 0);
	hit0 = test_metric(hit);
	miss0 = test_metric(miss);
	for (int i = 0; i < 10; i++) {
		struct http_resp *r = http_get("/v1/users/me", u.id_token);

		cr_assert_eq(r->status, 200, "%s", r->body);
		http_resp_free(r);
	}
	/* Each worker process of the group verifies the token once, then serves it from its cache. */
	misses = test_metric(miss) - miss0;
	cr_expect(misses >= 1 && misses <= test_metric("fluxori_worker_processes{group=\"users\"}"), "misses: %.0f",
		  misses);
	cr_expect_eq(test_metric(hit) - hit0, 10 - misses);
}

Test(metrics, connections_to_google_are_reused, .timeout = 60)
{
	const char *conns = "fluxori_backend_connections_total{group=\"products\",service=\"firestore\"}";
	const char *calls = "fluxori_backend_calls_total{group=\"products\",service=\"firestore\",outcome=\"ok\"}";
	struct test_user u;
	struct http_resp *r;
	char path[128];
	double conns0, calls0, threads, max;

	cr_assert_eq(test_user_signup(&u, "metrics"), 0);
	r = http_json("POST", "/v1/organizations", u.id_token, "{\"name\":\"Metrics\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&u), 0);
	r = http_json("POST", "/v1/products", u.id_token,
		      "{\"sku\":\"M-1\",\"name\":\"Meter\",\"priceCents\":100,\"status\":\"active\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(path, sizeof(path), "/v1/products/%s", json_str(r, "id"));
	http_resp_free(r);

	conns0 = test_metric(conns);
	calls0 = test_metric(calls);
	for (int i = 0; i < 200; i++) {
		r = http_get(path, u.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		http_resp_free(r);
	}
	cr_expect_geq(test_metric(calls) - calls0, 200, "every read went to Firestore");
	/* Each worker thread keeps its own connection: at most one new one per thread, not per call. */
	threads = test_env("FLUXORI_WORKER_THREADS") ? atof(test_env("FLUXORI_WORKER_THREADS")) : 16;
	max = threads * test_metric("fluxori_worker_processes{group=\"products\"}");
	cr_expect_leq(test_metric(conns) - conns0, max, "new connections: %.0f for 200 reads (at most %.0f threads)",
		      test_metric(conns) - conns0, max);
}

/*
 * A download is one Firestore read (the file's record) and one Storage
 * read (its bytes): the record has the size, type and generation that a
 * metadata call would give.
 */
Test(metrics, a_file_download_is_one_firestore_read_and_one_storage_read, .timeout = 60)
{
	const char *storage = "fluxori_backend_calls_total{group=\"files\",service=\"storage\",outcome=\"ok\"}";
	const char *firestore = "fluxori_backend_calls_total{group=\"files\",service=\"firestore\",outcome=\"ok\"}";
	static const char png[] = "\x89PNG\r\n\x1a\nmetrics test bytes";
	const char *h[] = {"X-File-Name: m.png", NULL};
	struct test_user u;
	struct http_resp *r;
	char path[128];
	double s0, f0, reads;

	cr_assert_eq(test_user_signup(&u, "metrics"), 0);
	r = http_json("POST", "/v1/organizations", u.id_token, "{\"name\":\"Metrics files\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(&u), 0);
	r = http_do("POST", "/v1/files?kind=document", u.id_token, "image/png", png, sizeof(png) - 1, h);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(path, sizeof(path), "/v1/files/%s/content", json_str(r, "id"));
	http_resp_free(r);

	s0 = test_metric(storage);
	f0 = test_metric(firestore);
	for (int i = 0; i < 10; i++) {
		r = http_get(path, u.id_token);
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_eq(r->len, sizeof(png) - 1);
		http_resp_free(r);
	}
	cr_expect_eq(test_metric(storage) - s0, 10, "Storage calls for 10 downloads: %.0f", test_metric(storage) - s0);
	/* Plus, at most once per process, the member snapshot of a process this member had not reached yet. */
	reads = test_metric(firestore) - f0;
	cr_expect(reads >= 10 && reads <= 10 + test_metric("fluxori_worker_processes{group=\"files\"}"),
		  "Firestore calls for 10 downloads: %.0f", reads);
}

/* The revocation check asks Identity Toolkit: counted as every call to Google is, once per user per window. */
Test(metrics, firebase_auth_lookups_are_counted_as_identity_toolkit_calls)
{
	const char *ok = "fluxori_backend_calls_total{group=\"insights\",service=\"identitytoolkit\",outcome=\"ok\"}";
	struct test_user u;
	double ok0, lookups;

	cr_assert_eq(test_user_signup(&u, "metrics"), 0);
	ok0 = test_metric(ok);
	for (int i = 0; i < 10; i++) {
		struct http_resp *r = http_get("/v1/insights", u.id_token);

		cr_assert_eq(r->status, 403, "checked, then refused for want of an organization: %s", r->body);
		http_resp_free(r);
	}
	/* Each worker process of the group asks Firebase about this user once, then uses its answer. */
	lookups = test_metric(ok) - ok0;
	cr_expect(lookups >= 1 && lookups <= test_metric("fluxori_worker_processes{group=\"insights\"}"),
		  "lookups: %.0f", lookups);
}
