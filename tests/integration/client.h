/*
 * Test client for the integration suite: HTTP to nginx (libcurl), JSON
 * answers parsed, and the stack's addresses from the environment the
 * harness (tests/integration/run) exports. Everything returned is owned by
 * the caller and freed with the matching _free.
 */
#ifndef FX_TEST_CLIENT_H
#define FX_TEST_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>

struct http_resp {
	long status;
	char *body;
	size_t len;
	char *headers;
	json_object *json; /* NULL when the body is not JSON */
};

/* Base URL of nginx, e.g. http://127.0.0.1:PORT (FLUXORI_TEST_URL). */
const char *test_url(void);

/* A variable of the stack's env file (RUN/env), or NULL. */
const char *test_env(const char *name);

/*
 * One request to nginx. token may be NULL (no Authorization); ctype NULL
 * means application/json when a body is given; extra is a NULL-terminated
 * list of "Name: value" lines or NULL. Never returns NULL: a transport
 * failure is status 0.
 */
struct http_resp *http_do(const char *method, const char *path, const char *token, const char *ctype, const char *body,
			  size_t len, const char *const *extra);
struct http_resp *http_get(const char *path, const char *token);
struct http_resp *http_json(const char *method, const char *path, const char *token, const char *json);
/* http_json with extra header lines. */
struct http_resp *http_json_h(const char *method, const char *path, const char *token, const char *json,
			      const char *const *extra);
/* Same, against an absolute URL (emulators). */
struct http_resp *http_url(const char *method, const char *url, const char *const *headers, const char *body,
			   size_t len);
/* http_url with the whole exchange bounded by timeout_ms (http_url: 60 s); past it, status 0. */
struct http_resp *http_url_timeout(const char *method, const char *url, const char *const *headers, const char *body,
				   size_t len, long timeout_ms);
void http_resp_free(struct http_resp *r);

/* Header value (case-insensitive) copied into a static per-call buffer, or NULL. */
const char *http_header(const struct http_resp *r, const char *name);

/* Convenience: a string at a dotted path of the answer's JSON ("error.status"), or NULL. */
const char *json_str(const struct http_resp *r, const char *dotted);
/* An integer at a dotted path; -1 when missing. */
long long json_int(const struct http_resp *r, const char *dotted);

/* Runs a command through the shell with the stack's environment; returns its exit status. */
int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A user of the Auth emulator, signed up by the test. */
struct test_user {
	char uid[129];
	char email[256];
	char id_token[4096];
	char refresh_token[1024];
};

/*
 * Signs a new user up (email and password) with a unique email built from
 * prefix, and marks the email verified, as a real invitee's would be (an
 * unverified account is not adopted by POST /v1/users); 0 or -1.
 */
int test_user_signup(struct test_user *u, const char *prefix);

/* The same without verifying the email: what anyone can do with someone else's address. */
int test_user_signup_unverified(struct test_user *u, const char *prefix);

/* Signs u in again with its password: a new session (auth_time now) and fresh tokens; 0 or -1. */
int test_user_signin(struct test_user *u);

/*
 * An admin call to the Auth emulator, as the Firebase console or an Admin
 * SDK would make it directly (not through the API):
 * POST .../v1/projects/demo-fluxori/accounts<op> with body (":update",
 * ":delete", ":lookup"). Returns the HTTP status (0 when nothing answered).
 */
long test_auth_admin(const char *op, const char *body);

/* Fetches a fresh ID token (new claims show up in it); 0 or -1. */
int test_user_refresh(struct test_user *u);

/*
 * A new owner of a new organization, made through the stack: signs u up
 * (test_user_signup with prefix), creates the organization called org_name
 * with u's token and refreshes the token so that it carries the owner's
 * claims. The organization's id goes into org (org_len bytes; NULL when
 * not wanted). Fails the test on any error.
 */
void test_owner_signup(struct test_user *u, const char *prefix, const char *org_name, char *org, size_t org_len);

/*
 * A product made through the stack with token: POST /v1/products with body
 * (201), then, when stock > 0, POST .../stock:adjust of +stock "received"
 * (200). Its id goes into id (id_len bytes). Fails the test on any error.
 */
void test_product_stocked(const char *token, const char *body, int stock, char *id, size_t id_len);

/*
 * Asserts that answer, a write's answer of the resource at path (2xx, the
 * resource with its etag), is what GET path with token returns next, byte for
 * byte: every field, their order, and the etag (its version). what names the
 * write in the failure message. Fails the test otherwise.
 */
void test_assert_answer_is_stored(const struct http_resp *answer, const char *path, const char *token,
				  const char *what);

/*
 * Sends method path with body and "If-Match: <prev's etag>" (prev must be current), asserts 200 and
 * test_assert_answer_is_stored(answer, get_path, token, what); returns the answer (the caller frees it).
 */
struct http_resp *test_write_is_stored(const char *method, const char *path, const char *get_path, const char *token,
				       const char *body, const struct http_resp *prev, const char *what);

/* A unique suffix for names in this test process. */
const char *test_unique(void);

/* A file's contents (at most 64 KiB), malloc'd and NUL-terminated; fails the test when unreadable or empty. */
char *test_slurp(const char *path);

/* GET /metrics from the stack's internal listener (FLUXORI_METRICS_PORT); fails the test unless 200. */
struct http_resp *test_metrics_scrape(void);
/* The value of the sample whose name and labels are exactly series; 0 when absent. */
double test_metric(const char *series);

/* wrk's summary: "N requests in", "Non-2xx or 3xx responses: N", "Socket errors: connect N, ...". */
struct wrk_result {
	long requests; /* -1 when wrk printed no summary */
	long non2xx;
	long connect, read, write, timeout;
	long socket_errors; /* their sum */
};
/* Parses wrk's output; -1 when its socket error line has an unknown shape. */
int wrk_parse(const char *out, struct wrk_result *w);

#endif
