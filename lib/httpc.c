#include "httpc.h"

#include "clock.h"
#include "config.h"
#include "defaults.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "str.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MAX_RESPONSE (8u * 1024 * 1024)
#define MAX_HEADER_BYTES 32768

static pthread_key_t handle_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void free_handle(void *h)
{
	curl_easy_cleanup(h);
}

static void make_key(void)
{
	pthread_key_create(&handle_key, free_handle);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx);

/*
 * The options every call sets alike, once per handle: resetting the handle
 * and setting them again on every call (curl_easy_reset, the protocol list
 * parsed anew) was ~4 % of a product get's worker CPU. fx_httpc_do sets
 * every other option on every call, the conditional ones back to their
 * defaults too, so no call inherits another's.
 */
static void set_constant_options(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fx_httpc_header_line);
}

/*
 * Handles given up by fx_httpc_thread_handover, with the connections they
 * hold, for the next threads that have none. Not a shared connection cache
 * (CURL_LOCK_DATA_CONNECT): libcurl 7.88 documents that one as unsafe with
 * transfers in several threads at once (KNOWN_BUGS, curl issues 4915 and
 * 9404). A handle here belongs to no thread; taking one is the only
 * locking, once per thread, never per transfer.
 */
#define MAX_SPARE 4
static CURL *spare[MAX_SPARE];
static int nspare;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;

static CURL *thread_handle(void)
{
	CURL *h;

	pthread_once(&key_once, make_key);
	h = pthread_getspecific(handle_key);
	if (!h) {
		pthread_mutex_lock(&spare_lock);
		if (nspare > 0)
			h = spare[--nspare];
		pthread_mutex_unlock(&spare_lock);
		if (!h) {
			h = curl_easy_init();
			if (h)
				set_constant_options(h);
		}
		pthread_setspecific(handle_key, h);
	}
	return h;
}

void fx_httpc_thread_handover(void)
{
	CURL *h;

	pthread_once(&key_once, make_key);
	h = pthread_getspecific(handle_key);
	if (!h)
		return;
	pthread_setspecific(handle_key, NULL);
	pthread_mutex_lock(&spare_lock);
	if (nspare < MAX_SPARE) {
		spare[nspare++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	if (h) /* enough are waiting: this one closes its connections */
		curl_easy_cleanup(h);
}

void fx_httpc_spare_cleanup(void)
{
	pthread_mutex_lock(&spare_lock);
	while (nspare > 0)
		curl_easy_cleanup(spare[--nspare]);
	pthread_mutex_unlock(&spare_lock);
}

struct side_call {
	void (*fn)(void *);
	void *ctx;
};

static void *side_thread(void *arg)
{
	const struct side_call *s = arg;

	s->fn(s->ctx);
	fx_httpc_thread_handover();
	return NULL;
}

void fx_httpc_both(void (*own)(void *), void *own_ctx, void (*side)(void *), void *side_ctx)
{
	struct side_call s = {side, side_ctx};
	pthread_t t;
	bool started = pthread_create(&t, NULL, side_thread, &s) == 0;

	own(own_ctx);
	if (started)
		pthread_join(t, NULL);
	else
		side(side_ctx);
}

void fx_httpc_thread_cleanup(void)
{
	CURL *h;

	pthread_once(&key_once, make_key);
	h = pthread_getspecific(handle_key);
	if (h) {
		curl_easy_cleanup(h);
		pthread_setspecific(handle_key, NULL);
	}
}

void fx_httpc_resp_init(struct fx_httpc_resp *r)
{
	r->status = 0;
	r->attempts = 0;
	fx_buf_init(&r->body, DEFAULT_MAX_RESPONSE);
	fx_buf_init(&r->headers, MAX_HEADER_BYTES);
}

void fx_httpc_resp_cleanup(struct fx_httpc_resp *r)
{
	if (!r)
		return;
	fx_buf_cleanup(&r->body);
	fx_buf_cleanup(&r->headers);
}

struct transfer {
	const struct fx_httpc_req *req;
	struct fx_httpc_resp *resp;
	bool too_big;
	bool sink_failed;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *t = ctx;
	size_t n = size * nmemb;
	long status = 0;

	if (t->req->sink) {
		CURL *h = thread_handle();

		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (t->req->sink(t->req->sink_ctx, p, n) < 0) {
				t->sink_failed = true;
				return 0;
			}
			return n;
		}
	}
	/*
	 * The first bytes of a body with a Content-Length get room for all of
	 * it at once: a 30 KB runQuery answer otherwise grew the buffer eight
	 * times from 256 bytes, copying it and asking malloc for ever larger
	 * blocks. A length over the cap reserves nothing (the append refuses).
	 */
	if (t->resp->body.cap == 0) {
		curl_off_t len = -1;

		if (curl_easy_getinfo(thread_handle(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK &&
		    len > 0 && (unsigned long long)len <= t->resp->body.max)
			fx_err_ignore(fx_buf_reserve(&t->resp->body, (size_t)len));
	}
	if (fx_buf_append(&t->resp->body, p, n) < 0) {
		t->too_big = true;
		return 0;
	}
	return n;
}

size_t fx_httpc_header_line(char *p, size_t size, size_t nmemb, void *resp)
{
	struct fx_httpc_resp *r = resp;
	size_t n = size * nmemb;

	/* A new status line starts the headers of a later response (redirects, 100). */
	if (n > 5 && strncmp(p, "HTTP/", 5) == 0)
		fx_buf_reset(&r->headers);
	/* Header lines beyond the cap are dropped: fx_httpc_header then finds none there. */
	fx_err_ignore(fx_buf_append(&r->headers, p, n));
	return n;
}

const char *fx_httpc_header_in(const char *lines, const char *name, char *out, size_t out_len)
{
	const char *p = lines;
	size_t nlen = strlen(name);

	if (!p)
		return NULL;
	while (*p) {
		const char *eol = strstr(p, "\r\n");
		size_t llen = eol ? (size_t)(eol - p) : strlen(p);

		if (llen > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1;
			size_t vlen;

			while (*v == ' ' || *v == '\t')
				v++;
			vlen = (size_t)(p + llen - v);
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			return fx_str_copy(out, out_len, v, vlen) < 0 ? NULL : out;
		}
		if (!eol)
			break;
		p = eol + 2;
	}
	return NULL;
}

const char *fx_httpc_header(const struct fx_httpc_resp *resp, const char *name, char *out, size_t out_len)
{
	return fx_httpc_header_in(resp->headers.data, name, out, out_len);
}

void fx_httpc_error_status(const struct fx_httpc_resp *resp, char *out, size_t out_len)
{
	json_object *root, *err, *st;

	out[0] = '\0';
	if (!resp->body.data || resp->body.len == 0)
		return;
	root = json_tokener_parse(resp->body.data);
	if (!root)
		return;
	/* Some endpoints answer an array holding the error (streamed RPCs). */
	if (json_object_is_type(root, json_type_array) && json_object_array_length(root) > 0)
		err = json_object_array_get_idx(root, 0);
	else
		err = root;
	if (json_object_object_get_ex(err, "error", &err) && json_object_object_get_ex(err, "status", &st) &&
	    json_object_is_type(st, json_type_string) && fx_str_set(out, out_len, json_object_get_string(st)) < 0)
		out[0] = '\0'; /* too long for a canonical status name: none */
	json_object_put(root);
}

int fx_httpc_google_error(const struct fx_httpc_resp *resp, const char *what, struct fx_err *e)
{
	json_object *root = NULL, *err, *v;
	const char *msg = NULL;
	enum fx_code code = FX_OK;

	if (resp->body.data)
		root = json_tokener_parse(resp->body.data);
	err = root;
	if (root && json_object_is_type(root, json_type_array) && json_object_array_length(root) > 0)
		err = json_object_array_get_idx(root, 0);
	if (err && json_object_object_get_ex(err, "error", &err)) {
		if (json_object_object_get_ex(err, "status", &v) && json_object_is_type(v, json_type_string))
			code = fx_err_from_name(json_object_get_string(v));
		if (json_object_object_get_ex(err, "message", &v) && json_object_is_type(v, json_type_string))
			msg = json_object_get_string(v);
	}
	/* A name we do not know counts as none: then the canonical name of the HTTP status says. */
	if (code == FX_OK)
		code = fx_err_from_name(fx_err_status_for((int)resp->status));
	fx_err_set(e, code, "%s failed: %.160s", what, msg ? msg : fx_err_status_for((int)resp->status));
	json_object_put(root);
	return -1;
}

int fx_httpc_url_encode(struct fx_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char enc[3];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			if (fx_buf_append(b, &s[i], 1) < 0)
				return -1;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[c >> 4];
		enc[2] = hex[c & 15];
		if (fx_buf_append(b, enc, 3) < 0)
			return -1;
	}
	return 0;
}

static bool retryable(const struct fx_httpc_req *req, CURLcode rc, long status, const struct fx_httpc_resp *resp)
{
	char gstatus[32];

	if (req->retry == FX_RETRY_NONE)
		return false;
	if (rc != CURLE_OK)
		return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		       (req->retry == FX_RETRY_IDEMPOTENT &&
			(rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
			 rc == CURLE_GOT_NOTHING));
	if (status == 503)
		return true;
	if (req->retry != FX_RETRY_IDEMPOTENT)
		return false;
	if (status == 429 || status == 500 || status == 502 || status == 504)
		return true;
	if (status == 409) {
		fx_httpc_error_status(resp, gstatus, sizeof(gstatus));
		return strcmp(gstatus, "ABORTED") == 0;
	}
	return false;
}

/* 100 ms doubling, capped at 2 s, with ±50 % jitter; Retry-After wins when longer. */
static long backoff_ms(int attempt, const struct fx_httpc_resp *resp)
{
	long base = 100L << (attempt > 5 ? 5 : attempt);
	char ra[16]; /* up to 15 digits: s * 1000 cannot overflow */
	int64_t s;

	if (base > 2000)
		base = 2000;
	base = fx_clock_jitter_ms(base);
	/* Delay-seconds only: an HTTP date, or digits followed by anything, is no delay. */
	if (fx_httpc_header(resp, "Retry-After", ra, sizeof(ra)) && fx_num_parse(ra, 1, INT64_MAX, &s, NULL) == 0 &&
	    s * 1000 > base)
		base = s * 1000 > 5000 ? 5000 : (long)s * 1000;
	return base;
}

int fx_httpc_do(const struct fx_httpc_req *req, struct fx_httpc_resp *resp, struct fx_err *e)
{
	const struct fx_config *cfg = fx_config_get();
	long timeout = req->timeout_ms ? req->timeout_ms : (cfg ? cfg->http_timeout_ms : FX_DEFAULT_HTTP_TIMEOUT_MS);
	long connect_timeout = cfg ? cfg->connect_timeout_ms : FX_DEFAULT_CONNECT_TIMEOUT_MS;
	int max_attempts = req->max_attempts ? req->max_attempts : FX_DEFAULT_HTTP_ATTEMPTS;
	long deadline = fx_clock_ms() + timeout;
	const char *method = req->method ? req->method : "GET";
	struct curl_slist *hdrs = NULL;
	CURL *h = thread_handle();
	CURLcode rc = CURLE_OK;
	char curl_err[CURL_ERROR_SIZE];

	if (!h)
		return fx_err_set(e, FX_INTERNAL, "curl handle allocation failed");
	resp->body.max = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
	for (const char *const *p = req->headers; p && *p; p++)
		hdrs = curl_slist_append(hdrs, *p);
	/* libcurl would add "Expect: 100-continue" to large bodies: a round trip lost. */
	hdrs = curl_slist_append(hdrs, "Expect:");

	for (int attempt = 0;; attempt++) {
		struct transfer t = {req, resp, false, false};
		long left = deadline - fx_clock_ms(), connects = 0;
		curl_off_t took_us = 0;

		if (left < 50)
			left = 50;
		fx_buf_reset(&resp->body);
		fx_buf_reset(&resp->headers);
		resp->status = 0;
		resp->attempts = attempt + 1;
		curl_err[0] = '\0';
		curl_easy_setopt(h, CURLOPT_URL, req->url);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout < left ? connect_timeout : left);
		if (req->sink) { /* a stream: given up when it stalls for what is left of the budget (defaults.h) */
			curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, FX_STREAM_MAX_MS);
			curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)FX_STREAM_MIN_BYTES_PER_S);
			curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (left + 999) / 1000);
		} else {
			curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left);
			curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 0L);
			curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L);
		}
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, t.resp);
		/* GET first: it clears a previous call's POST or HEAD (method, body, no-body). */
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") != 0 ? method : NULL);
		if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		    strcmp(method, "PATCH") == 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
		if (strcmp(method, "HEAD") == 0)
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);

		rc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK)
			connects = 0;
		if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &took_us) != CURLE_OK)
			took_us = 0;
		fx_metrics_backend(req->service, rc == CURLE_OK ? resp->status : 0, connects, (double)took_us / 1e6);
		if (t.too_big) {
			curl_slist_free_all(hdrs);
			return fx_err_set(e, FX_BAD_GATEWAY, "%s answer exceeds %zu bytes",
					  req->service ? req->service : "backend", resp->body.max);
		}
		if (t.sink_failed) {
			curl_slist_free_all(hdrs);
			return fx_err_set(e, FX_CANCELLED, "client went away during a streamed transfer");
		}
		if (attempt + 1 >= max_attempts || !retryable(req, rc, resp->status, resp))
			break;
		{
			long wait = backoff_ms(attempt, resp);

			if (fx_clock_ms() + wait >= deadline)
				break;
			fx_metrics_backend_retry(req->service);
			fx_log_debug("retrying %s %s after %ld ms (attempt %d, status %ld)", method,
				     req->service ? req->service : "call", wait, attempt + 1, resp->status);
			fx_clock_sleep_ms(wait);
		}
	}
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		return fx_err_set(e, FX_UNAVAILABLE, "%s unreachable: %s", req->service ? req->service : "backend",
				  curl_err[0] ? curl_err : curl_easy_strerror(rc));
	}
	return 0;
}
