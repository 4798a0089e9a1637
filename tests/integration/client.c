#include "client.h"

#include <criterion/criterion.h>

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *test_url(void)
{
	const char *u = getenv("FLUXORI_TEST_URL");

	return u ? u : "http://127.0.0.1:8080";
}

const char *test_env(const char *name)
{
	static __thread char value[512];
	const char *run = getenv("FLUXORI_TEST_RUN");
	char path[512], line[1024];
	size_t n = strlen(name);
	FILE *f;

	if (getenv(name))
		return getenv(name);
	if (!run)
		return NULL;
	snprintf(path, sizeof(path), "%s/env", run);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) == 0 && line[n] == '=') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(value, sizeof(value), "%s", line + n + 1);
			fclose(f);
			return value;
		}
	}
	fclose(f);
	return NULL;
}

struct sink {
	char *p;
	size_t n;
};

static size_t collect(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;

	s->p = realloc(s->p, s->n + n + 1);
	memcpy(s->p + s->n, p, n);
	s->n += n;
	s->p[s->n] = '\0';
	return n;
}

struct http_resp *http_url(const char *method, const char *url, const char *const *headers, const char *body,
			   size_t len)
{
	return http_url_timeout(method, url, headers, body, len, 60000);
}

struct http_resp *http_url_timeout(const char *method, const char *url, const char *const *headers, const char *body,
				   size_t len, long timeout_ms)
{
	struct http_resp *r = calloc(1, sizeof(*r));
	struct sink b = {NULL, 0}, h = {NULL, 0};
	struct curl_slist *list = NULL;
	CURL *c = curl_easy_init();

	for (const char *const *p = headers; p && *p; p++)
		list = curl_slist_append(list, *p);
	list = curl_slist_append(list, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(list);
	r->body = b.p ? b.p : strdup("");
	r->len = b.n;
	r->headers = h.p ? h.p : strdup("");
	if (r->len)
		r->json = json_tokener_parse(r->body);
	return r;
}

struct http_resp *http_do(const char *method, const char *path, const char *token, const char *ctype, const char *body,
			  size_t len, const char *const *extra)
{
	char url[4096], auth[8192], ct[256];
	const char *headers[40];
	int n = 0;

	snprintf(url, sizeof(url), "%s%s", test_url(), path);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		headers[n++] = auth;
	}
	if (body || ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
		headers[n++] = ct;
	}
	for (const char *const *p = extra; p && *p && n < 38; p++)
		headers[n++] = *p;
	headers[n] = NULL;
	return http_url(method, url, headers, body, len);
}

struct http_resp *http_get(const char *path, const char *token)
{
	return http_do("GET", path, token, NULL, NULL, 0, NULL);
}

struct http_resp *http_json(const char *method, const char *path, const char *token, const char *json)
{
	return http_do(method, path, token, NULL, json, json ? strlen(json) : 0, NULL);
}

struct http_resp *http_json_h(const char *method, const char *path, const char *token, const char *json,
			      const char *const *extra)
{
	return http_do(method, path, token, NULL, json, json ? strlen(json) : 0, extra);
}

void http_resp_free(struct http_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->headers);
	json_object_put(r->json);
	free(r);
}

const char *http_header(const struct http_resp *r, const char *name)
{
	static __thread char value[1024];
	size_t n = strlen(name);
	const char *p = r->headers;

	while (p && *p) {
		const char *eol = strstr(p, "\r\n");

		if (!eol)
			break;
		if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			snprintf(value, sizeof(value), "%.*s", (int)(eol - v), v);
			return value;
		}
		p = eol + 2;
	}
	return NULL;
}

static json_object *at(const struct http_resp *r, const char *dotted)
{
	char path[256], *save = NULL, *seg;
	json_object *o = r->json;

	snprintf(path, sizeof(path), "%s", dotted);
	for (seg = strtok_r(path, ".", &save); seg && o; seg = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			o = json_object_array_get_idx(o, (size_t)strtoul(seg, NULL, 10));
		} else if (!json_object_object_get_ex(o, seg, &o)) {
			return NULL;
		}
	}
	return o;
}

const char *json_str(const struct http_resp *r, const char *dotted)
{
	json_object *o = at(r, dotted);

	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

long long json_int(const struct http_resp *r, const char *dotted)
{
	json_object *o = at(r, dotted);

	return o && json_object_is_type(o, json_type_int) ? (long long)json_object_get_int64(o) : -1;
}

int test_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

const char *test_unique(void)
{
	static __thread char buf[64];
	static atomic_int counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, sizeof(buf), "%d-%ld%03ld-%d", (int)getpid(), (long)ts.tv_sec % 100000, ts.tv_nsec / 1000000,
		 atomic_fetch_add(&counter, 1));
	return buf;
}

static int copy_json_string(json_object *o, const char *key, char *out, size_t len)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return -1;
	snprintf(out, len, "%s", json_object_get_string(v));
	return 0;
}

long test_auth_admin(const char *op, const char *body)
{
	const char *h[] = {"Content-Type: application/json", "Authorization: Bearer owner", NULL};
	char url[512];
	struct http_resp *r;
	long status;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/identitytoolkit.googleapis.com/v1/projects/demo-fluxori/accounts%s",
		 test_env("FLUXORI_AUTH_PORT"), op);
	r = http_url("POST", url, h, body, strlen(body));
	status = r->status;
	http_resp_free(r);
	return status;
}

int test_user_signup(struct test_user *u, const char *prefix)
{
	char body[300];

	if (test_user_signup_unverified(u, prefix) < 0)
		return -1;
	snprintf(body, sizeof(body), "{\"localId\":\"%s\",\"emailVerified\":true}", u->uid);
	return test_auth_admin(":update", body) == 200 ? 0 : -1;
}

int test_user_signin(struct test_user *u)
{
	const char *h[] = {"Content-Type: application/json", NULL};
	char url[512], body[600];
	struct http_resp *r;
	int rc;

	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%s/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=test",
		 test_env("FLUXORI_AUTH_PORT"));
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"secret-123\",\"returnSecureToken\":true}",
		 u->email);
	r = http_url("POST", url, h, body, strlen(body));
	rc = r->status == 200 && copy_json_string(r->json, "idToken", u->id_token, sizeof(u->id_token)) == 0 &&
			     copy_json_string(r->json, "refreshToken", u->refresh_token, sizeof(u->refresh_token)) == 0
		     ? 0
		     : -1;
	http_resp_free(r);
	return rc;
}

int test_user_signup_unverified(struct test_user *u, const char *prefix)
{
	const char *h[] = {"Content-Type: application/json", NULL};
	char url[512], body[600];
	struct http_resp *r;
	int rc;

	memset(u, 0, sizeof(*u));
	snprintf(u->email, sizeof(u->email), "%s-%s@example.co.za", prefix, test_unique());
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/identitytoolkit.googleapis.com/v1/accounts:signUp?key=test",
		 test_env("FLUXORI_AUTH_PORT"));
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"secret-123\",\"returnSecureToken\":true}",
		 u->email);
	r = http_url("POST", url, h, body, strlen(body));
	rc = r->status == 200 && copy_json_string(r->json, "localId", u->uid, sizeof(u->uid)) == 0 ? 0 : -1;
	http_resp_free(r);
	/*
	 * The tokens of a sign-in, not of the sign-up: the Auth emulator's signUp
	 * takes the token's auth_time from one clock read and the account's
	 * validSince from a later one (after hashing the password), so across a
	 * second's boundary the sign-up's own token is older than validSince and
	 * the API rightly answers "this session was revoked" (seen once in CI on a
	 * busy machine). A sign-in's auth_time is read after validSince was set.
	 */
	return rc == 0 ? test_user_signin(u) : -1;
}

int test_user_refresh(struct test_user *u)
{
	const char *h[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	char url[512], body[1200];
	struct http_resp *r;
	int rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/securetoken.googleapis.com/v1/token?key=test",
		 test_env("FLUXORI_AUTH_PORT"));
	snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", u->refresh_token);
	r = http_url("POST", url, h, body, strlen(body));
	rc = r->status == 200 && copy_json_string(r->json, "id_token", u->id_token, sizeof(u->id_token)) == 0 ? 0 : -1;
	if (rc == 0)
		copy_json_string(r->json, "refresh_token", u->refresh_token, sizeof(u->refresh_token));
	http_resp_free(r);
	return rc;
}

char *test_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p = calloc(1, 65536);

	cr_assert_not_null(f, "%s", path);
	cr_assert_geq(fread(p, 1, 65535, f), 1, "%s is empty", path);
	fclose(f);
	return p;
}

int wrk_parse(const char *out, struct wrk_result *w)
{
	const char *p = strstr(out, " requests in ");

	memset(w, 0, sizeof(*w));
	w->requests = -1;
	if (p) {
		while (p > out && p[-1] >= '0' && p[-1] <= '9')
			p--;
		w->requests = strtol(p, NULL, 10);
	}
	if ((p = strstr(out, "Non-2xx or 3xx responses:")))
		w->non2xx = strtol(p + strlen("Non-2xx or 3xx responses:"), NULL, 10);
	if ((p = strstr(out, "Socket errors:")) &&
	    sscanf(p, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &w->connect, &w->read, &w->write,
		   &w->timeout) != 4)
		return -1;
	w->socket_errors = w->connect + w->read + w->write + w->timeout;
	return 0;
}

struct http_resp *test_metrics_scrape(void)
{
	char url[128];
	struct http_resp *r;

	cr_assert_not_null(test_env("FLUXORI_METRICS_PORT"), "the stack names its metrics port");
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/metrics", test_env("FLUXORI_METRICS_PORT"));
	r = http_url("GET", url, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->body);
	return r;
}

double test_metric(const char *series)
{
	struct http_resp *r = test_metrics_scrape();
	size_t n = strlen(series);
	double v = 0;

	for (const char *p = r->body; p && *p;) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	http_resp_free(r);
	return v;
}

void test_owner_signup(struct test_user *u, const char *prefix, const char *org_name, char *org, size_t org_len)
{
	json_object *body = json_object_new_object();
	struct http_resp *r;

	cr_assert_eq(test_user_signup(u, prefix), 0);
	json_object_object_add(body, "name", json_object_new_string(org_name));
	r = http_json("POST", "/v1/organizations", u->id_token, json_object_to_json_string(body));
	json_object_put(body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	if (org)
		cr_assert_lt(snprintf(org, org_len, "%s", json_str(r, "id")), (int)org_len, "the id fits");
	http_resp_free(r);
	cr_assert_eq(test_user_refresh(u), 0);
}

void test_product_stocked(const char *token, const char *body, int stock, char *id, size_t id_len)
{
	char path[200], delta[100];
	struct http_resp *r = http_json("POST", "/v1/products", token, body);

	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_lt(snprintf(id, id_len, "%s", json_str(r, "id")), (int)id_len, "the id fits");
	http_resp_free(r);
	if (stock <= 0)
		return;
	snprintf(path, sizeof(path), "/v1/products/%s/stock:adjust", id);
	snprintf(delta, sizeof(delta), "{\"delta\":%d,\"reason\":\"received\"}", stock);
	r = http_json("POST", path, token, delta);
	cr_assert_eq(r->status, 200, "%s", r->body);
	http_resp_free(r);
}

void test_assert_answer_is_stored(const struct http_resp *answer, const char *path, const char *token, const char *what)
{
	struct http_resp *g;

	cr_assert(answer->status >= 200 && answer->status < 300, "%s: %ld %s", what, answer->status, answer->body);
	cr_assert_not_null(json_str(answer, "etag"), "%s answers an etag: %s", what, answer->body);
	g = http_get(path, token);
	cr_assert_eq(g->status, 200, "%s: GET %s: %s", what, path, g->body);
	cr_assert_str_eq(answer->body, g->body, "%s answers the stored resource byte for byte:\n%s\n%s", what,
			 answer->body, g->body);
	http_resp_free(g);
}

struct http_resp *test_write_is_stored(const char *method, const char *path, const char *get_path, const char *token,
				       const char *body, const struct http_resp *prev, const char *what)
{
	const char *etag = json_str(prev, "etag");
	char match[128];
	const char *h[2] = {match, NULL};
	struct http_resp *r;

	cr_assert_not_null(etag, "an etag: %s", prev->body);
	cr_assert_lt(snprintf(match, sizeof(match), "If-Match: %s", etag), (int)sizeof(match), "If-Match fits");
	r = http_json_h(method, path, token, body, h);
	cr_assert_eq(r->status, 200, "%s with the last answer's etag: %s", what, r->body);
	test_assert_answer_is_stored(r, get_path, token, what);
	return r;
}
