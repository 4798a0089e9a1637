/*
 * fx_gcs (and fx_gcssign_url) against a real Storage emulator that this
 * binary starts once (scripts/emulators, free loopback ports) before the
 * first test and stops after the last, plus a canned upstream (testserver)
 * for what the emulator never does: ifGenerationMatch, 412, 5xx, refused
 * credentials, lying or malformed answers.
 */
#include "gcs.h"

#include "buf.h"
#include "config.h"
#include "emulator.h"
#include "gauth.h"
#include "gcssign.h"
#include "httpc.h"
#include "log.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROJECT "demo-fluxori"
#define BUCKET "demo-fluxori.appspot.com"
/* The runner process starts the emulators; test processes are exec'd anew and learn of them from these. */
#define ENV_STORAGE_PORT "FX_TEST_GCS_STORAGE_PORT"
#define ENV_START_ERROR "FX_TEST_GCS_START_ERROR"
#define MIB (1024u * 1024)

/* ---- emulator lifetime (runner process) ---- */

const struct emu_fixture emu_fixture = {"gcs", EMU_SCRIPT, EMU_STORAGE, ENV_STORAGE_PORT, ENV_START_ERROR};

/* ---- per test ---- */

static struct fx_config cfg;
static char storage_base[96], key_path[1200];
static struct fx_err err;
static struct testserver *ts;

static void base_config(void)
{
	const char *shared = getenv("FLUXORI_SHARED_DIR"), *top = getenv("top_srcdir");

	fx_log_init("test_gcs", FX_LOG_ERROR + 1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.project = PROJECT;
	cfg.bucket = BUCKET;
	cfg.http_timeout_ms = 20000;
	cfg.connect_timeout_ms = 2000;
	/* The conformance folder's dummy key signs URLs (the emulator checks no signature). */
	if (shared && *shared)
		snprintf(key_path, sizeof(key_path), "%s/conformance/gcs-v4-signatures/%s", shared,
			 "test_service_account.not-a-test.json");
	else
		snprintf(key_path, sizeof(key_path), "%s/../shared/conformance/gcs-v4-signatures/%s",
			 top && *top ? top : ".", "test_service_account.not-a-test.json");
	cfg.credentials = key_path;
	fx_gauth_reset();
	fx_err_clear(&err);
}

static void setup_emulator(void)
{
	const char *port = emu_suite_port(EMU_STORAGE, ENV_STORAGE_PORT, ENV_START_ERROR);

	base_config();
	snprintf(storage_base, sizeof(storage_base), "http://127.0.0.1:%s", port);
	cfg.storage_emulator = storage_base;
	cfg.storage_url = storage_base;
	cfg.storage_upload_url = storage_base;
	fx_config_set(&cfg);
}

/* A canned upstream instead of Storage; still "emulated" so the bearer is "owner". */
static void setup_canned(void)
{
	base_config();
	ts = ts_start();
	cfg.storage_emulator = ts_url(ts);
	cfg.storage_url = ts_url(ts);
	cfg.storage_upload_url = ts_url(ts);
	fx_config_set(&cfg);
}

static void teardown_canned(void)
{
	ts_stop(ts);
	ts = NULL;
}

TestSuite(gcs, .init = setup_emulator, .timeout = 120);
TestSuite(gcs_wire, .init = setup_canned, .fini = teardown_canned, .timeout = 60);

/* A name prefix no other test (or earlier run) uses: tests run in parallel on one emulator. */
static void unique_prefix(char *out, size_t len, const char *tag)
{
	static unsigned seq;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(out, len, "test-%s-%d-%ld-%u/", tag, (int)getpid(), now.tv_nsec, seq++);
}

static void expect_error(int rc, int code, const char *status)
{
	cr_assert_eq(rc, -1);
	cr_assert_eq(fx_err_http(err.kind), code, "expected %d, got %d %s: %s", code, fx_err_http(err.kind),
		     fx_err_name(err.kind), err.message);
	cr_assert_str_eq(fx_err_name(err.kind), status);
	fx_err_clear(&err);
}

static int collect(void *ctx, const char *p, size_t n)
{
	return fx_buf_append(ctx, p, n);
}

static unsigned sink_calls;

static int counting_sink(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	sink_calls++;
	return 0;
}

/* Downloads name and checks it holds exactly the n bytes of want. */
static void expect_content(const char *name, const void *want, size_t n, struct fx_gcs_object *meta)
{
	struct fx_buf got;

	fx_buf_init(&got, n + 1);
	cr_assert_eq(fx_gcs_download(name, n, collect, &got, meta, &err), 0, "download %s: %s", name, err.message);
	cr_assert_eq(got.len, n, "download %s: %zu bytes, want %zu", name, got.len, n);
	cr_assert(n == 0 || memcmp(got.data, want, n) == 0, "download %s: bytes differ", name);
	fx_buf_cleanup(&got);
}

static void md5_base64(const void *p, size_t n, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	cr_assert_eq(EVP_Digest(p, n, md, &len, EVP_md5(), NULL), 1);
	cr_assert_eq(EVP_EncodeBlock((unsigned char *)out, md, (int)len), 24);
}

/* ---- against the emulator ---- */

Test(gcs, binary_bytes_with_nuls_round_trip_through_upload_stat_and_download)
{
	char prefix[96], name[160], md5[32];
	unsigned char data[1024];
	struct fx_gcs_object up, st, meta;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7); /* every byte value, NULs included */
	unique_prefix(prefix, sizeof(prefix), "bin");
	snprintf(name, sizeof(name), "%sblob.bin", prefix);
	cr_assert_eq(fx_gcs_upload(name, "application/octet-stream", data, sizeof(data), -1, &up, &err), 0, "%s",
		     err.message);
	cr_assert_str_eq(up.name, name);
	cr_assert_eq(up.size, (int64_t)sizeof(data));
	cr_assert_gt(up.generation, 0);
	md5_base64(data, sizeof(data), md5);
	cr_assert_str_eq(up.md5, md5, "Storage hashed other bytes than ours");
	cr_assert_neq(up.crc32c[0], '\0');
	cr_assert_neq(up.updated[0], '\0');

	cr_assert_eq(fx_gcs_stat(name, &st, &err), 0, "%s", err.message);
	cr_assert_str_eq(st.name, name);
	cr_assert_eq(st.size, up.size);
	cr_assert_eq(st.generation, up.generation);
	cr_assert_str_eq(st.md5, up.md5);
	cr_assert_str_eq(st.content_type, "application/octet-stream");

	expect_content(name, data, sizeof(data), &meta);
	cr_assert_eq(meta.generation, up.generation);
	cr_assert_eq(meta.size, up.size);
}

Test(gcs, empty_object_round_trips)
{
	char prefix[96], name[160];
	struct fx_gcs_object up, st;

	unique_prefix(prefix, sizeof(prefix), "empty");
	snprintf(name, sizeof(name), "%sempty", prefix);
	cr_assert_eq(fx_gcs_upload(name, "text/plain", NULL, 0, -1, &up, &err), 0, "%s", err.message);
	cr_assert_eq(up.size, 0);
	cr_assert_eq(fx_gcs_stat(name, &st, &err), 0, "%s", err.message);
	cr_assert_eq(st.size, 0);
	sink_calls = 0;
	cr_assert_eq(fx_gcs_download(name, 0, counting_sink, NULL, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(sink_calls, 0);
}

Test(gcs, ten_mib_object_round_trips_streamed)
{
	size_t n = 10 * MIB;
	unsigned char *data = malloc(n);
	char prefix[96], name[160], md5[32];
	struct fx_gcs_object up;
	uint32_t x = 2463534242u;

	cr_assert(data);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	unique_prefix(prefix, sizeof(prefix), "big");
	snprintf(name, sizeof(name), "%sten-mib.bin", prefix);
	cr_assert_eq(fx_gcs_upload(name, "application/octet-stream", data, n, -1, &up, &err), 0, "%s", err.message);
	cr_assert_eq(up.size, (int64_t)n);
	md5_base64(data, n, md5);
	cr_assert_str_eq(up.md5, md5);
	expect_content(name, data, n, NULL);
	free(data);
}

Test(gcs, content_type_is_kept)
{
	char prefix[96], name[160];
	const char *csv = "sku,qty\nA-1,3\n";
	struct fx_gcs_object up, st;

	unique_prefix(prefix, sizeof(prefix), "type");
	snprintf(name, sizeof(name), "%sexport.csv", prefix);
	cr_assert_eq(fx_gcs_upload(name, "text/csv; charset=utf-8", csv, strlen(csv), -1, &up, &err), 0, "%s",
		     err.message);
	cr_assert_str_eq(up.content_type, "text/csv; charset=utf-8");
	cr_assert_eq(fx_gcs_stat(name, &st, &err), 0, "%s", err.message);
	cr_assert_str_eq(st.content_type, "text/csv; charset=utf-8");
}

Test(gcs, list_pages_through_25_objects_in_pages_of_10)
{
	char prefix[96], name[160], token[512] = "";
	size_t sizes[3], pages = 0, seen = 0;

	unique_prefix(prefix, sizeof(prefix), "list");
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "%sobj-%02d", prefix, i);
		cr_assert_eq(fx_gcs_upload(name, "text/plain", name, strlen(name), -1, NULL, &err), 0, "%s",
			     err.message);
	}
	do {
		struct fx_gcs_object *items;
		char **prefixes, previous[512];
		size_t n, np;

		snprintf(previous, sizeof(previous), "%s", token);
		cr_assert_lt(pages, 3, "more than 3 pages");
		cr_assert_eq(
			fx_gcs_list(prefix, NULL, previous, 10, &items, &n, &prefixes, &np, token, sizeof(token), &err),
			0, "%s", err.message);
		sizes[pages++] = n;
		cr_assert_eq(np, 0);
		for (size_t i = 0; i < n; i++, seen++) {
			snprintf(name, sizeof(name), "%sobj-%02zu", prefix, seen);
			cr_assert_str_eq(items[i].name, name, "page %zu item %zu", pages, i);
			cr_assert_eq(items[i].size, (int64_t)strlen(name));
			cr_assert_str_eq(items[i].content_type, "text/plain");
		}
		free(items);
		fx_gcs_prefixes_free(prefixes, np);
	} while (token[0]);
	cr_assert_eq(pages, 3);
	cr_assert_eq(sizes[0], 10);
	cr_assert_eq(sizes[1], 10);
	cr_assert_eq(sizes[2], 5);
	cr_assert_eq(seen, 25);
}

Test(gcs, list_with_a_delimiter_rolls_names_up_into_prefixes)
{
	const char *names[] = {"a.txt", "x/1", "x/2", "y/z/1"};
	char prefix[96], name[160], want[160], token[256];
	struct fx_gcs_object *items;
	char **prefixes;
	size_t n, np;

	unique_prefix(prefix, sizeof(prefix), "delim");
	for (size_t i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "%s%s", prefix, names[i]);
		cr_assert_eq(fx_gcs_upload(name, NULL, "x", 1, -1, NULL, &err), 0, "%s", err.message);
	}
	cr_assert_eq(fx_gcs_list(prefix, "/", NULL, 0, &items, &n, &prefixes, &np, token, sizeof(token), &err), 0, "%s",
		     err.message);
	cr_assert_eq(n, 1);
	snprintf(want, sizeof(want), "%sa.txt", prefix);
	cr_assert_str_eq(items[0].name, want);
	cr_assert_eq(np, 2);
	snprintf(want, sizeof(want), "%sx/", prefix);
	cr_assert_str_eq(prefixes[0], want);
	snprintf(want, sizeof(want), "%sy/", prefix);
	cr_assert_str_eq(prefixes[1], want);
	cr_assert_str_eq(token, "");
	free(items);
	fx_gcs_prefixes_free(prefixes, np);
}

Test(gcs, delete_then_stat_is_not_found_and_a_second_delete_too)
{
	char prefix[96], name[160];
	struct fx_gcs_object st;

	unique_prefix(prefix, sizeof(prefix), "del");
	snprintf(name, sizeof(name), "%sgone", prefix);
	cr_assert_eq(fx_gcs_upload(name, NULL, "bye", 3, -1, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(fx_gcs_delete(name, -1, &err), 0, "%s", err.message);
	expect_error(fx_gcs_stat(name, &st, &err), 404, "NOT_FOUND");
	cr_assert_str_eq(st.name, "");
	expect_error(fx_gcs_delete(name, -1, &err), 404, "NOT_FOUND");
	sink_calls = 0;
	expect_error(fx_gcs_download(name, 100, counting_sink, NULL, NULL, &err), 404, "NOT_FOUND");
	cr_assert_eq(sink_calls, 0);
}

Test(gcs, names_with_spaces_unicode_slashes_and_url_characters_round_trip)
{
	const char *tails[] = {
		"a b.txt",   "ünïcødé/日本語.txt", "deep/er/still/x",	  "100%.txt",	     "%2F", "hash#tag",
		"what?.txt", "plus+and&eq=.txt",   "semi;colon,comma@at", "~tilde*star'(q)'"};
	char prefix[96], name[256];

	unique_prefix(prefix, sizeof(prefix), "names");
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		struct fx_gcs_object up, st, *items;
		char **prefixes, token[64];
		size_t n, np;

		snprintf(name, sizeof(name), "%s%s", prefix, tails[i]);
		cr_assert_eq(fx_gcs_upload(name, "text/plain", tails[i], strlen(tails[i]), -1, &up, &err), 0,
			     "upload %s: %s", name, err.message);
		cr_assert_str_eq(up.name, name);
		cr_assert_eq(fx_gcs_stat(name, &st, &err), 0, "stat %s: %s", name, err.message);
		cr_assert_str_eq(st.name, name);
		expect_content(name, tails[i], strlen(tails[i]), NULL);
		cr_assert_eq(fx_gcs_list(name, NULL, NULL, 0, &items, &n, &prefixes, &np, token, sizeof(token), &err),
			     0, "list %s: %s", name, err.message);
		cr_assert_eq(n, 1, "list %s: %zu items", name, n);
		cr_assert_str_eq(items[0].name, name);
		free(items);
		fx_gcs_prefixes_free(prefixes, np);
	}
}

Test(gcs, download_refuses_an_object_larger_than_the_cap_before_sending_a_byte)
{
	char prefix[96], name[160], data[100];
	struct fx_buf got;

	memset(data, 'z', sizeof(data));
	unique_prefix(prefix, sizeof(prefix), "cap");
	snprintf(name, sizeof(name), "%shundred", prefix);
	cr_assert_eq(fx_gcs_upload(name, NULL, data, sizeof(data), -1, NULL, &err), 0, "%s", err.message);
	sink_calls = 0;
	cr_assert_eq(fx_gcs_download(name, 99, counting_sink, NULL, NULL, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 413, "%d %s", fx_err_http(err.kind), err.message);
	cr_assert_eq(sink_calls, 0);
	fx_err_clear(&err);
	fx_buf_init(&got, 200);
	cr_assert_eq(fx_gcs_download(name, 100, collect, &got, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(got.len, 100);
	fx_buf_cleanup(&got);
}

Test(gcs, resumable_upload_stores_the_object_with_its_content_type)
{
	size_t n = MIB + 17;
	char *data = malloc(n), prefix[96], name[160];
	struct fx_gcs_object up, st;

	cr_assert(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i % 251);
	unique_prefix(prefix, sizeof(prefix), "resumable");
	snprintf(name, sizeof(name), "%sphoto 1.png", prefix);
	cr_assert_eq(fx_gcs_upload_resumable(name, "image/png", data, n, &up, &err), 0, "%s", err.message);
	cr_assert_str_eq(up.name, name);
	cr_assert_eq(up.size, (int64_t)n);
	cr_assert_eq(fx_gcs_stat(name, &st, &err), 0, "%s", err.message);
	cr_assert_str_eq(st.content_type, "image/png");
	expect_content(name, data, n, NULL);
	free(data);
}

Test(gcs, resumable_upload_of_zero_bytes_works)
{
	char prefix[96], name[160];
	struct fx_gcs_object up;

	unique_prefix(prefix, sizeof(prefix), "resumable0");
	snprintf(name, sizeof(name), "%snothing", prefix);
	cr_assert_eq(fx_gcs_upload_resumable(name, NULL, NULL, 0, &up, &err), 0, "%s", err.message);
	cr_assert_eq(up.size, 0);
	cr_assert_str_eq(up.content_type, "application/octet-stream");
}

/* PUT or GET through httpc without credentials, as a browser holding the URL would. */
static long plain_call(const char *method, const char *url, const char *const *headers, const char *body, size_t n,
		       struct fx_buf *answer)
{
	struct fx_httpc_req req = {0};
	struct fx_httpc_resp resp;
	long status;

	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = n;
	fx_httpc_resp_init(&resp);
	cr_assert_eq(fx_httpc_do(&req, &resp, &err), 0, "%s %s: %s", method, url, err.message);
	status = resp.status;
	if (answer)
		cr_assert_eq(fx_buf_append(answer, resp.body.data ? resp.body.data : "", resp.body.len), 0);
	fx_httpc_resp_cleanup(&resp);
	return status;
}

Test(gcs, signed_put_url_stores_the_bytes_that_download_reads_back)
{
	const char *headers[] = {"Content-Type: text/plain", NULL};
	const char *body = "uploaded through a signed URL\n";
	char prefix[96], name[160], want[256];
	struct fx_buf url, answer;
	struct fx_gcs_object st;

	unique_prefix(prefix, sizeof(prefix), "signed put");
	snprintf(name, sizeof(name), "%sdoc #1.txt", prefix);
	fx_buf_init(&url, 16384);
	cr_assert_eq(fx_gcssign_url("PUT", name, 900, headers, NULL, &url, &err), 0, "%s", err.message);
	snprintf(want, sizeof(want), "%s/upload/storage/v1/b/%s/o?", storage_base, BUCKET);
	cr_assert(strncmp(url.data, want, strlen(want)) == 0, "%s", url.data);
	cr_assert(strstr(url.data, "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40"
				   "dummy-project-id.iam.gserviceaccount.com%2F"),
		  "%s", url.data);
	cr_assert(strstr(url.data, "&X-Goog-Expires=900&X-Goog-SignedHeaders=content-type%3Bhost&"), "%s", url.data);
	cr_assert(strstr(url.data, "&upload_id="), "%s", url.data);
	cr_assert(strstr(url.data, "&X-Goog-Signature="), "%s", url.data);

	fx_buf_init(&answer, 65536);
	cr_assert_eq(plain_call("PUT", url.data, headers, body, strlen(body), &answer), 200, "%s", answer.data);
	expect_content(name, body, strlen(body), NULL);
	cr_assert_eq(fx_gcs_stat(name, &st, &err), 0, "%s", err.message);
	cr_assert_str_eq(st.content_type, "text/plain");
	fx_buf_cleanup(&url);
	fx_buf_cleanup(&answer);
}

Test(gcs, signed_get_url_downloads_the_object)
{
	const char *body = "read me through a signed URL";
	char prefix[96], name[160], want[256];
	struct fx_buf url, answer;

	unique_prefix(prefix, sizeof(prefix), "signed get");
	snprintf(name, sizeof(name), "%sdir/ü ?.txt", prefix);
	cr_assert_eq(fx_gcs_upload(name, "text/plain", body, strlen(body), -1, NULL, &err), 0, "%s", err.message);
	fx_buf_init(&url, 16384);
	cr_assert_eq(fx_gcssign_url("GET", name, 60, NULL, NULL, &url, &err), 0, "%s", err.message);
	snprintf(want, sizeof(want), "%s/%s/test-signed%%20get-", storage_base, BUCKET);
	cr_assert(strncmp(url.data, want, strlen(want)) == 0, "%s", url.data);
	cr_assert(strstr(url.data, "/dir/%C3%BC%20%3F.txt?X-Goog-Algorithm="), "%s", url.data);
	fx_buf_init(&answer, 65536);
	cr_assert_eq(plain_call("GET", url.data, NULL, NULL, 0, &answer), 200);
	cr_assert_str_eq(answer.data, body);
	fx_buf_cleanup(&url);
	fx_buf_cleanup(&answer);
}

Test(gcs, signing_other_methods_is_unimplemented_on_the_emulator)
{
	struct fx_buf url;

	fx_buf_init(&url, 16384);
	expect_error(fx_gcssign_url("DELETE", "x", 60, NULL, NULL, &url, &err), 501, "UNIMPLEMENTED");
	fx_buf_cleanup(&url);
}

Test(gcs, malformed_names_are_refused_before_any_request)
{
	char long_name[FX_GCS_MAX_NAME + 2];
	struct fx_gcs_object st;
	const char *bad[] = {"", "a\nb", "a\rb", "\xff\xfe", ".", ".."};

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(fx_gcs_stat(bad[i], &st, &err), -1, "accepted \"%s\"", bad[i]);
		cr_assert_eq(fx_err_http(err.kind), 400);
		cr_assert_str_eq(err.details[0].field, "object");
		fx_err_clear(&err);
	}
	expect_error(fx_gcs_upload(long_name, NULL, "x", 1, -1, NULL, &err), 400, "INVALID_ARGUMENT");
	long_name[FX_GCS_MAX_NAME] = '\0';
	cr_assert_eq(fx_gcs_upload(long_name, NULL, "x", 1, -1, NULL, &err), 0, "1024 bytes refused: %s", err.message);
	cr_assert_eq(fx_gcs_delete(long_name, -1, &err), 0, "%s", err.message);
}

/* ---- requests the emulator cannot check, against a canned upstream ---- */

#define OBJECT_JSON                                                                                     \
	"{\"kind\":\"storage#object\",\"name\":\"o\",\"bucket\":\"" BUCKET "\",\"generation\":\"7\","   \
	"\"metageneration\":\"1\",\"contentType\":\"text/plain\",\"size\":\"10\",\"md5Hash\":\"bWQ1\"," \
	"\"crc32c\":\"AAAAAA==\",\"updated\":\"2026-01-02T03:04:05.000Z\"}"

static void last_request(struct ts_request *r)
{
	cr_assert(ts_last(ts, r), "no request arrived");
}

Test(gcs_wire, create_only_upload_sends_if_generation_match_0_and_412_is_failed_precondition)
{
	struct ts_request r;
	struct fx_gcs_object up;
	char ct[128];

	ts_reply(ts, 200, NULL, OBJECT_JSON);
	cr_assert_eq(fx_gcs_upload("o", "text/plain", "0123456789", 10, 0, &up, &err), 0, "%s", err.message);
	cr_assert_eq(up.generation, 7);
	cr_assert_eq(up.size, 10);
	cr_assert_str_eq(up.updated, "2026-01-02T03:04:05.000Z");
	last_request(&r);
	cr_assert_str_eq(r.method, "POST");
	cr_assert_str_eq(r.path, "/upload/storage/v1/b/" BUCKET "/o?uploadType=multipart&ifGenerationMatch=0");
	cr_assert(ts_header(&r, "Content-Type", ct, sizeof(ct)));
	cr_assert(strncmp(ct, "multipart/related; boundary=", 28) == 0, "%s", ct);
	cr_assert(memmem(r.body, r.body_len, "{\"name\":\"o\",\"contentType\":\"text/plain\"}", 39), "%.*s",
		  (int)r.body_len, r.body);
	cr_assert(memmem(r.body, r.body_len, "\r\n\r\n0123456789\r\n--", 18));

	ts_reply(ts, 412, NULL,
		 "{\"error\":{\"code\":412,\"message\":\"At least one of the pre-conditions you specified did not "
		 "hold.\"}}");
	expect_error(fx_gcs_upload("o", "text/plain", "0123456789", 10, 0, &up, &err), 412, "FAILED_PRECONDITION");
}

Test(gcs_wire, replace_upload_sends_the_generation_and_plain_upload_none)
{
	struct ts_request r;

	ts_reply(ts, 200, NULL, OBJECT_JSON);
	cr_assert_eq(fx_gcs_upload("dir/o", NULL, "x", 1, 1795511758331LL, NULL, &err), 0, "%s", err.message);
	last_request(&r);
	cr_assert_str_eq(r.path,
			 "/upload/storage/v1/b/" BUCKET "/o?uploadType=multipart&ifGenerationMatch=1795511758331");
	cr_assert_eq(fx_gcs_upload("dir/o", NULL, "x", 1, -1, NULL, &err), 0, "%s", err.message);
	last_request(&r);
	cr_assert_str_eq(r.path, "/upload/storage/v1/b/" BUCKET "/o?uploadType=multipart");
}

Test(gcs_wire, upload_without_precondition_is_not_repeated_after_a_500)
{
	ts_reply(ts, 500, NULL, "{\"error\":{\"code\":500,\"message\":\"backend error\"}}");
	expect_error(fx_gcs_upload("o", NULL, "x", 1, -1, NULL, &err), 503, "UNAVAILABLE");
	cr_assert_eq(ts_count(ts), 1, "a non-idempotent upload was repeated");
}

Test(gcs_wire, upload_with_precondition_is_repeated_after_a_500)
{
	ts_reply(ts, 500, NULL, "{\"error\":{\"code\":500,\"message\":\"backend error\"}}");
	expect_error(fx_gcs_upload("o", NULL, "x", 1, 0, NULL, &err), 503, "UNAVAILABLE");
	cr_assert_gt(ts_count(ts), 1, "a create-only upload was not retried");
}

Test(gcs_wire, delete_sends_if_generation_match_and_maps_412)
{
	struct ts_request r;

	ts_reply(ts, 204, NULL, "");
	cr_assert_eq(fx_gcs_delete("a/b c", 42, &err), 0, "%s", err.message);
	last_request(&r);
	cr_assert_str_eq(r.method, "DELETE");
	cr_assert_str_eq(r.path, "/storage/v1/b/" BUCKET "/o/a%2Fb%20c?ifGenerationMatch=42");
	ts_reply(ts, 412, NULL, "{\"error\":{\"code\":412,\"message\":\"Precondition Failed\"}}");
	expect_error(fx_gcs_delete("a/b c", 41, &err), 412, "FAILED_PRECONDITION");
}

Test(gcs_wire, reads_are_retried_and_a_lasting_503_is_unavailable_with_retry_after)
{
	struct fx_gcs_object st;

	ts_reply(ts, 503, NULL, "{\"error\":{\"code\":503,\"message\":\"try later\"}}");
	cr_assert_eq(fx_gcs_stat("o", &st, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 503);
	cr_assert_str_eq(fx_err_name(err.kind), "UNAVAILABLE");
	cr_assert_eq(err.retry_after, 1);
	cr_assert_gt(ts_count(ts), 1);
}

Test(gcs_wire, refused_credentials_are_unavailable_not_the_callers_fault)
{
	struct fx_gcs_object st;

	ts_reply(ts, 403, NULL, "{\"error\":{\"code\":403,\"message\":\"caller does not have storage.objects.get\"}}");
	expect_error(fx_gcs_stat("o", &st, &err), 503, "UNAVAILABLE");
}

Test(gcs_wire, unreachable_storage_is_unavailable)
{
	struct fx_gcs_object st;

	ts_down(ts, true);
	expect_error(fx_gcs_stat("o", &st, &err), 503, "UNAVAILABLE");
}

Test(gcs_wire, malformed_answers_are_502)
{
	struct fx_gcs_object st;

	ts_reply(ts, 200, NULL, "<html>not json</html>");
	expect_error(fx_gcs_stat("o", &st, &err), 502, "UNAVAILABLE");
	ts_reply(ts, 200, NULL, "{\"name\":\"o\",\"size\":\"-3\",\"generation\":\"1\"}");
	expect_error(fx_gcs_stat("o", &st, &err), 502, "UNAVAILABLE");
}

/* Metadata says 10 bytes, the media answer brings 100. */
static void lying_storage(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	(void)ctx;
	if (strstr(req->path, "alt=media")) {
		memset(resp->body, 'L', 100);
		resp->body_len = 100;
		return;
	}
	resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body), "%s", OBJECT_JSON);
}

Test(gcs_wire, download_is_cut_when_storage_sends_more_than_the_cap)
{
	struct ts_request r;
	struct fx_buf got;

	ts_handle(ts, lying_storage, NULL);
	fx_buf_init(&got, 1000);
	expect_error(fx_gcs_download("o", 50, collect, &got, NULL, &err), 502, "UNAVAILABLE");
	cr_assert_leq(got.len, 50);
	last_request(&r);
	cr_assert_str_eq(r.path, "/storage/v1/b/" BUCKET "/o/o?alt=media&generation=7");
	fx_buf_cleanup(&got);
}

Test(gcs_wire, a_download_of_a_known_generation_is_one_media_request)
{
	struct ts_request r;
	struct fx_buf got;
	unsigned before;

	ts_reply(ts, 200, "x-goog-generation: 7\r\n", "0123456789");
	fx_buf_init(&got, 1000);
	before = ts_count(ts);
	cr_assert_eq(fx_gcs_download_generation("o", 7, 10, 10, collect, &got, &err), 0, "%s", err.message);
	cr_assert_eq(ts_count(ts) - before, 1, "no metadata call");
	last_request(&r);
	cr_assert_str_eq(r.path, "/storage/v1/b/" BUCKET "/o/o?alt=media&generation=7");
	cr_assert_eq(got.len, 10);
	cr_assert(memcmp(got.data, "0123456789", 10) == 0);
	fx_buf_cleanup(&got);
}

Test(gcs_wire, a_known_generation_answered_as_another_or_with_another_length_sends_no_byte)
{
	struct fx_buf got;
	unsigned before;

	fx_buf_init(&got, 1000);
	ts_reply(ts, 200, "x-goog-generation: 8\r\n", "0123456789");
	expect_error(fx_gcs_download_generation("o", 7, 10, 10, collect, &got, &err), 502, "UNAVAILABLE");
	cr_assert_eq(got.len, 0, "another generation's bytes reached the sink");
	fx_err_clear(&err);
	ts_reply(ts, 200, "x-goog-generation: 7\r\n", "0123456789AB");
	expect_error(fx_gcs_download_generation("o", 7, 10, 100, collect, &got, &err), 502, "UNAVAILABLE");
	cr_assert_eq(got.len, 0, "bytes of another length reached the sink");
	fx_err_clear(&err);
	before = ts_count(ts);
	cr_assert_eq(fx_gcs_download_generation("o", 7, 101, 100, collect, &got, &err), -1);
	cr_assert(fx_err_is(&err, FX_PAYLOAD_TOO_LARGE), "%s %s", fx_err_name(err.kind), err.message);
	cr_assert_eq(ts_count(ts), before, "refused before any request");
	fx_buf_cleanup(&got);
}

Test(gcs_wire, list_sends_its_parameters_encoded)
{
	struct ts_request r;
	struct fx_gcs_object *items;
	char **prefixes, token[64];
	size_t n, np;

	ts_reply(ts, 200, NULL,
		 "{\"kind\":\"storage#objects\",\"items\":[" OBJECT_JSON "],\"prefixes\":[\"p/\"],"
		 "\"nextPageToken\":\"next+1\"}");
	cr_assert_eq(fx_gcs_list("org 1/", "/", "tok=en", 10, &items, &n, &prefixes, &np, token, sizeof(token), &err),
		     0, "%s", err.message);
	last_request(&r);
	cr_assert_str_eq(r.path, "/storage/v1/b/" BUCKET "/o?prefix=org%201%2F&delimiter=%2F&pageToken=tok%3Den"
				 "&maxResults=10");
	cr_assert_eq(n, 1);
	cr_assert_str_eq(items[0].name, "o");
	cr_assert_eq(np, 1);
	cr_assert_str_eq(prefixes[0], "p/");
	cr_assert_str_eq(token, "next+1");
	free(items);
	fx_gcs_prefixes_free(prefixes, np);

	cr_assert_eq(fx_gcs_list(NULL, NULL, NULL, 0, &items, &n, &prefixes, &np, token, 4, &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 502, "a token longer than the buffer must not be truncated: %s",
		     err.message);
	cr_assert_null(items);
	cr_assert_eq(n, 0);
	fx_err_clear(&err);
	expect_error(fx_gcs_list(NULL, NULL, NULL, FX_GCS_MAX_LIST + 1, &items, &n, &prefixes, &np, token,
				 sizeof(token), &err),
		     400, "INVALID_ARGUMENT");
}

struct session_server {
	char location[512];
};

/* Answers the session POST with a Location and the PUT with the object. */
static void session_storage(const struct ts_request *req, struct ts_response *resp, void *ctx)
{
	struct session_server *s = ctx;

	if (strcmp(req->method, "POST") == 0) {
		snprintf(resp->headers, sizeof(resp->headers), "Location: %s\r\n", s->location);
		return;
	}
	resp->body_len = (size_t)snprintf(resp->body, sizeof(resp->body), "%s", OBJECT_JSON);
}

Test(gcs_wire, resumable_upload_puts_to_the_session_it_opened)
{
	struct session_server s;
	struct ts_request r;
	char v[64];

	snprintf(s.location, sizeof(s.location), "%s/upload/storage/v1/b/%s/o?uploadType=resumable&upload_id=abc",
		 ts_url(ts), BUCKET);
	ts_handle(ts, session_storage, &s);
	cr_assert_eq(fx_gcs_upload_resumable("o", "text/plain", "0123456789", 10, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(ts_count(ts), 2);
	last_request(&r);
	cr_assert_str_eq(r.method, "PUT");
	cr_assert_str_eq(r.path, "/upload/storage/v1/b/" BUCKET "/o?uploadType=resumable&upload_id=abc");
	cr_assert_eq(r.body_len, 10);
	cr_assert(memcmp(r.body, "0123456789", 10) == 0);
	cr_assert(ts_header(&r, "Content-Type", v, sizeof(v)));
	cr_assert_str_eq(v, "text/plain");
}

Test(gcs_wire, a_session_url_on_another_host_is_refused)
{
	struct session_server s;

	snprintf(s.location, sizeof(s.location), "http://attacker.example/upload?upload_id=abc");
	ts_handle(ts, session_storage, &s);
	expect_error(fx_gcs_upload_resumable("o", "text/plain", "0123456789", 10, NULL, &err), 502, "UNAVAILABLE");
	cr_assert_eq(ts_count(ts), 1, "bytes went to a foreign session url");
}
