#include "httpc.h"

#include "clock.h"
#include "config.h"
#include "defaults.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "str.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MAX_RESPONSE (8u * 1024 * 1024)
#define MAX_HEADER_BYTES 32768

/*
 * A thread's handles: h for curl_easy_perform's calls; lean, a
 * CURLOPT_CONNECT_ONLY handle holding one kept HTTP/1.1 connection to
 * origin for the lean calls (fx_httpc_req.lean), NULL until the first.
 */
struct handles {
	CURL *h;
	CURL *lean;
	curl_socket_t fd; /* lean's socket */
	char origin[256]; /* "scheme://host[:port]" lean is connected to */
};

static pthread_key_t handle_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void lean_close(struct handles *t)
{
	if (t->lean)
		curl_easy_cleanup(t->lean);
	t->lean = NULL;
	t->origin[0] = '\0';
}

static void free_handles(void *p)
{
	struct handles *t = p;

	if (!t)
		return;
	lean_close(t);
	curl_easy_cleanup(t->h);
	free(t);
}

static void make_key(void)
{
	pthread_key_create(&handle_key, free_handles);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx);

/*
 * The options every call sets alike, once per handle: resetting the handle
 * and setting them again on every call (curl_easy_reset, the protocol list
 * parsed anew) was ~4 % of a product get's worker CPU. fx_httpc_do sets
 * every other option on every call, the conditional ones back to their
 * defaults too, so no call inherits another's.
 */
/*
 * How both of a thread's handles connect: no signals, TCP keepalive and
 * no Nagle, http(s) only, the CAs of FLUXORI_CA_BUNDLE when set (else
 * libcurl's default bundle). Peer and host name are always verified.
 */
static void set_connection_options(CURL *h)
{
	const struct fx_config *cfg = fx_config_get();

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cfg && cfg->ca_bundle)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_bundle);
}

static void set_constant_options(CURL *h)
{
	set_connection_options(h);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
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
static struct handles *spare[MAX_SPARE];
static int nspare;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;

static struct handles *thread_handles(void)
{
	struct handles *t;

	pthread_once(&key_once, make_key);
	t = pthread_getspecific(handle_key);
	if (!t) {
		pthread_mutex_lock(&spare_lock);
		if (nspare > 0)
			t = spare[--nspare];
		pthread_mutex_unlock(&spare_lock);
		if (!t) {
			t = calloc(1, sizeof(*t));
			if (t)
				t->h = curl_easy_init();
			if (t && !t->h) {
				free(t);
				t = NULL;
			}
			if (t)
				set_constant_options(t->h);
		}
		pthread_setspecific(handle_key, t);
	}
	return t;
}

static CURL *thread_handle(void)
{
	struct handles *t = thread_handles();

	return t ? t->h : NULL;
}

void fx_httpc_thread_handover(void)
{
	struct handles *t;

	pthread_once(&key_once, make_key);
	t = pthread_getspecific(handle_key);
	if (!t)
		return;
	pthread_setspecific(handle_key, NULL);
	pthread_mutex_lock(&spare_lock);
	if (nspare < MAX_SPARE) {
		spare[nspare++] = t;
		t = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	free_handles(t); /* enough are waiting: this one closes its connections */
}

void fx_httpc_spare_cleanup(void)
{
	pthread_mutex_lock(&spare_lock);
	while (nspare > 0)
		free_handles(spare[--nspare]);
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
	struct handles *t;

	pthread_once(&key_once, make_key);
	t = pthread_getspecific(handle_key);
	if (t) {
		free_handles(t);
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

/* The value of header name in lines (blanks around it trimmed) and its length in *len, or NULL when absent. */
static const char *header_value(const char *lines, const char *name, size_t *len)
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
			*len = vlen;
			return v;
		}
		if (!eol)
			break;
		p = eol + 2;
	}
	return NULL;
}

const char *fx_httpc_header_in(const char *lines, const char *name, char *out, size_t out_len)
{
	size_t n;
	const char *v = header_value(lines, name, &n);

	return v && fx_str_copy(out, out_len, v, n) == 0 ? out : NULL;
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

/*
 * ---- The lean path (fx_httpc_req.lean) ----
 *
 * One request written straight to a kept HTTP/1.1 connection, the answer
 * read off it here: curl_easy_perform's own work per transfer (the URL
 * parsed and set, the request's text through curl's printf, every header
 * matched) was ~46 % of a product get's worker CPU, and a CONNECT_ONLY
 * handle's curl_easy_send/recv ~100 µs cheaper per GET than it
 * (docs/performance.md, "A Firestore call written straight to its
 * connection"). curl still makes the connection (resolving, proxies, TLS and
 * its session) and encrypts; the deadline, the answer's cap, the headers kept
 * in resp and the mapping to CURLcode for retryable() are those of the curl
 * path. A kept connection the server closed while idle is reconnected once,
 * and the request sent again, only when no byte of the answer arrived.
 */

#define LEAN_IO_BYTES 16384

struct lean_call {
	struct handles *t;
	const struct fx_httpc_req *req;
	struct fx_httpc_resp *resp;
	long deadline; /* fx_clock_ms at which this attempt ends */
	char *err; /* CURL_ERROR_SIZE bytes: why, for the log (curl's own text: address, port) */
	const char *why; /* the answer's fault in our own words (a literal), for the error's message */
	long connects;
	bool too_big;
	bool got_any; /* a byte of the answer arrived */
};

/* The lean path's URL: origin "scheme://authority" (into origin), authority and path inside url. */
struct lean_url {
	char origin[sizeof(((struct handles *)0)->origin)];
	const char *authority;
	size_t authority_len;
	const char *path; /* from the first '/' after the authority */
};

/*
 * The bytes that end a lean path's scan (S): its NUL, and what sends a URL
 * to curl's path instead — a fragment, spaces and controls, DEL. A Firestore
 * URL with a mask is ~500 bytes, scanned on every call.
 */
#define S 1
static const unsigned char path_stop[256] = {
	/* clang-format off */
	S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x00 */
	S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, /* 0x10 */
	S, 0, 0, S, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x50 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, S, /* 0x70 */
	/* clang-format on */
};
#undef S

/* Splits url; -1 when it is not http(s)://authority/path or too long for the lean path (curl's path then). */
static int lean_split(const char *url, struct lean_url *u)
{
	const char *a, *slash;

	if (strncmp(url, "http://", 7) == 0)
		a = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		a = url + 8;
	else
		return -1;
	slash = strchr(a, '/');
	if (!slash || slash == a)
		return -1;
	u->authority = a;
	u->authority_len = (size_t)(slash - a);
	u->path = slash;
	/* Userinfo, a query before the path, a fragment, spaces or controls: curl's path. */
	for (const char *p = a; p < slash; p++)
		if (*p == '@' || *p == '?' || *p == '#' || (unsigned char)*p <= ' ')
			return -1;
	{
		const unsigned char *p = (const unsigned char *)slash;

		while (!path_stop[*p])
			p++;
		if (*p)
			return -1;
	}
	return fx_str_copy(u->origin, sizeof(u->origin), url, (size_t)(slash - url));
}

/* The request's text: method, path, Host, the caller's headers, Content-Length, then the body. */
static int lean_request(const struct fx_httpc_req *req, const char *method, const struct lean_url *u,
			struct fx_buf *out)
{
	int bad = fx_buf_puts(out, method) < 0;

	bad |= fx_buf_puts(out, " ") < 0 || fx_buf_puts(out, u->path) < 0 ||
	       fx_buf_puts(out, " HTTP/1.1\r\nHost: ") < 0 || fx_buf_append(out, u->authority, u->authority_len) < 0 ||
	       fx_buf_puts(out, "\r\n") < 0;
	for (const char *const *p = req->headers; p && *p; p++) {
		size_t n = strlen(*p);

		/* "Name:" with no value removes a header curl would add: none is added here. */
		if (n == 0 || (*p)[n - 1] == ':' || strpbrk(*p, "\r\n"))
			continue;
		bad |= fx_buf_append(out, *p, n) < 0 || fx_buf_puts(out, "\r\n") < 0;
	}
	if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)
		bad |= fx_buf_puts(out, "Content-Length: ") < 0 ||
		       fx_buf_put_uint(out, req->body ? req->body_len : 0) < 0 || fx_buf_puts(out, "\r\n") < 0;
	bad |= fx_buf_puts(out, "\r\n") < 0;
	if (req->body && req->body_len)
		bad |= fx_buf_append(out, req->body, req->body_len) < 0;
	return bad ? -1 : 0;
}

/* Waits until fd is ready for events: 0, or -1 once the deadline has passed. */
static int lean_wait(curl_socket_t fd, short events, long deadline)
{
	for (;;) {
		long left = deadline - fx_clock_ms();
		struct pollfd p = {fd, events, 0};
		int n;

		if (left <= 0)
			return -1;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0 || (n < 0 && errno != EINTR))
			return 0; /* ready, or an error the next send/recv reports */
	}
}

static CURLcode lean_connect(struct lean_call *c, const struct lean_url *u, long connect_timeout)
{
	struct handles *t = c->t;
	char url[sizeof(u->origin) + 1];
	long left = c->deadline - fx_clock_ms();
	CURLcode rc;

	lean_close(t);
	if (fx_str_fmt(url, sizeof(url), "%s/", u->origin) < 0)
		return CURLE_URL_MALFORMAT;
	t->lean = curl_easy_init();
	if (!t->lean)
		return CURLE_OUT_OF_MEMORY;
	if (left < 1)
		left = 1;
	curl_easy_setopt(t->lean, CURLOPT_URL, url);
	curl_easy_setopt(t->lean, CURLOPT_CONNECT_ONLY, 1L);
	set_connection_options(t->lean);
	/* ALPN offers http/1.1 only: the text written here is HTTP/1.1. */
	curl_easy_setopt(t->lean, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* Through an HTTP proxy (the environment's), a CONNECT tunnel: the request written here is origin-form. */
	curl_easy_setopt(t->lean, CURLOPT_HTTPPROXYTUNNEL, 1L);
	curl_easy_setopt(t->lean, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout < left ? connect_timeout : left);
	curl_easy_setopt(t->lean, CURLOPT_ERRORBUFFER, c->err);
	c->connects++;
	rc = curl_easy_perform(t->lean);
	if (rc == CURLE_OK &&
	    (curl_easy_getinfo(t->lean, CURLINFO_ACTIVESOCKET, &t->fd) != CURLE_OK || t->fd == CURL_SOCKET_BAD))
		rc = CURLE_COULDNT_CONNECT;
	if (rc != CURLE_OK || fx_str_set(t->origin, sizeof(t->origin), u->origin) < 0) {
		lean_close(t);
		return rc != CURLE_OK ? rc : CURLE_URL_MALFORMAT;
	}
	return CURLE_OK;
}

/*
 * A kept connection with something to read while idle was closed (or sent
 * what nobody asked for). Asked of curl, not of the socket: over TLS the
 * socket may hold bytes that are TLS's own (a TLS 1.3 server sends session
 * tickets whenever it likes), which this read consumes with nothing to show
 * (CURLE_AGAIN: not stale), and what the TLS layer has already decrypted
 * would not show on the socket at all. Over plain http the same one read.
 */
static bool lean_stale(const struct handles *t)
{
	char ch;
	size_t got = 0;

	return curl_easy_recv(t->lean, &ch, 1, &got) != CURLE_AGAIN;
}

static CURLcode lean_send(struct lean_call *c, const char *p, size_t n)
{
	while (n > 0) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(c->t->lean, p, n, &sent);

		if (rc == CURLE_AGAIN) {
			if (lean_wait(c->t->fd, POLLOUT, c->deadline) < 0)
				return CURLE_OPERATION_TIMEDOUT;
			continue;
		}
		if (rc != CURLE_OK)
			return rc;
		p += sent;
		n -= sent;
	}
	return CURLE_OK;
}

/*
 * What arrived, up to cap bytes, waiting up to the deadline; *got 0: the peer
 * closed. wait_first: nothing can have arrived yet (the request was just
 * sent), so wait before reading instead of a read that says so.
 */
static CURLcode lean_recv(struct lean_call *c, char *buf, size_t cap, size_t *got, bool wait_first)
{
	for (;;) {
		CURLcode rc;

		if (wait_first && lean_wait(c->t->fd, POLLIN, c->deadline) < 0)
			return CURLE_OPERATION_TIMEDOUT;
		rc = curl_easy_recv(c->t->lean, buf, cap, got);
		if (rc != CURLE_AGAIN)
			return rc;
		wait_first = true;
	}
}

/* The body's framing, and where reading it stands. */
enum lean_framing { LEAN_NONE, LEAN_LENGTH, LEAN_CHUNKED, LEAN_CLOSE };
enum chunk_state {
	CH_SIZE,
	CH_EXT,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,
	CH_TRAILER_LINE,
	CH_END_LF,
	CH_DONE
};

struct lean_body {
	enum lean_framing framing;
	enum chunk_state st;
	uint64_t left; /* bytes of the body (LENGTH) or of the chunk (CHUNKED) still to come */
	int digits;
	bool extra; /* bytes after the answer: the connection is not kept */
};

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Feeds n bytes of the answer after its head: 1 when the body is complete, 0 for more, -1 malformed, -2 over the cap. */
static int lean_feed(struct lean_body *b, struct fx_buf *body, const char *p, size_t n)
{
	size_t i = 0;

	if (b->framing == LEAN_CLOSE)
		return fx_buf_append(body, p, n) < 0 ? -2 : 0;
	if (b->framing == LEAN_LENGTH) {
		size_t k = n < b->left ? n : (size_t)b->left;

		if (fx_buf_append(body, p, k) < 0)
			return -2;
		b->left -= k;
		b->extra |= k < n;
		return b->left == 0 ? 1 : 0;
	}
	while (i < n && b->st != CH_DONE) {
		char ch = p[i];
		int v;

		switch (b->st) {
		case CH_SIZE:
			if ((v = hexval(ch)) >= 0) {
				if (++b->digits > 15)
					return -1;
				b->left = b->left * 16 + (uint64_t)v;
			} else if (b->digits == 0) {
				return -1;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				b->st = CH_EXT;
			} else if (ch == '\r') {
				b->st = CH_SIZE_LF;
			} else {
				return -1;
			}
			i++;
			break;
		case CH_EXT:
			if (ch == '\r')
				b->st = CH_SIZE_LF;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return -1;
			b->st = b->left ? CH_DATA : CH_TRAILER;
			i++;
			break;
		case CH_DATA: {
			size_t k = n - i < b->left ? n - i : (size_t)b->left;

			if (fx_buf_append(body, p + i, k) < 0)
				return -2;
			b->left -= k;
			i += k;
			if (b->left == 0)
				b->st = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return -1;
			b->st = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -1;
			b->st = CH_SIZE;
			b->digits = 0;
			i++;
			break;
		case CH_TRAILER:
			b->st = ch == '\r' ? CH_END_LF : CH_TRAILER_LINE;
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\n')
				b->st = CH_TRAILER;
			i++;
			break;
		case CH_END_LF:
			if (ch != '\n')
				return -1;
			b->st = CH_DONE;
			i++;
			break;
		case CH_DONE: break;
		}
	}
	b->extra |= i < n;
	return b->st == CH_DONE ? 1 : 0;
}

static CURLcode lean_fail(struct lean_call *c, CURLcode rc, const char *why)
{
	fx_err_ignore(fx_str_set(c->err, CURL_ERROR_SIZE, why));
	c->why = why;
	return rc;
}

/* Whether a header value of n bytes at v is word, case-insensitively. */
static bool value_is(const char *v, size_t n, const char *word)
{
	return n == strlen(word) && strncasecmp(v, word, n) == 0;
}

/*
 * Checks the head in resp->headers (status line, header lines, the final
 * empty line; head_len bytes) and reads its framing: CURLE_OK, or
 * CURLE_WEIRD_SERVER_REPLY with c->err saying why.
 */
static CURLcode lean_head(struct lean_call *c, const char *method, struct lean_body *b, bool *keep)
{
	const char *h = c->resp->headers.data, *line, *end, *v;
	char num[64]; /* a Content-Length longer than this is refused, never taken as absent */
	size_t n;
	uint64_t len;

	if (strncmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ' || h[9] < '1' || h[9] > '5' ||
	    h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' || (h[12] != ' ' && h[12] != '\r'))
		return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "malformed status line");
	c->resp->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	*keep = h[7] == '1';
	/* Every header line is "name: value", the name a token. */
	for (line = strstr(h, "\r\n") + 2; *line && strncmp(line, "\r\n", 2) != 0; line = end + 2) {
		const char *colon;

		end = strstr(line, "\r\n");
		colon = memchr(line, ':', (size_t)(end - line));
		if (!colon || colon == line)
			return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "malformed header line");
		for (const char *q = line; q < colon; q++)
			if ((unsigned char)*q <= ' ' || *q == 0x7f)
				return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "malformed header line");
	}
	if ((v = header_value(h, "Connection", &n)))
		*keep = !value_is(v, n, "close") && (h[7] == '1' || value_is(v, n, "keep-alive"));
	b->framing = LEAN_CLOSE;
	if (strcmp(method, "HEAD") == 0 || c->resp->status == 204 || c->resp->status == 304 || c->resp->status < 200) {
		b->framing = LEAN_NONE;
	} else if ((v = header_value(h, "Transfer-Encoding", &n))) {
		if (!value_is(v, n, "chunked"))
			return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "unsupported transfer coding");
		b->framing = LEAN_CHUNKED;
	} else if ((v = header_value(h, "Content-Length", &n))) {
		if (fx_str_copy(num, sizeof(num), v, n) < 0 || fx_num_parse_u64(num, UINT64_MAX, &len, NULL) < 0)
			return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "malformed Content-Length");
		b->framing = len ? LEAN_LENGTH : LEAN_NONE;
		b->left = len;
		if (len > c->resp->body.max) {
			c->too_big = true;
			return CURLE_WRITE_ERROR;
		}
		fx_err_ignore(fx_buf_reserve(&c->resp->body, (size_t)len));
	}
	if (b->framing == LEAN_CLOSE)
		*keep = false;
	return CURLE_OK;
}

/*
 * Looks for the final head in resp->headers, interim (1xx) heads dropped:
 * CURLE_OK with its length in *head_len, CURLE_AGAIN when more bytes are
 * needed, or why it is refused.
 */
static CURLcode lean_heads(struct lean_call *c, const char *method, struct lean_body *b, bool *keep, size_t *head_len)
{
	struct fx_buf *hb = &c->resp->headers;

	for (;;) {
		const char *end = memmem(hb->data, hb->len, "\r\n\r\n", 4);
		CURLcode rc;
		char save;

		if (!end)
			return hb->len > MAX_HEADER_BYTES
				       ? lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "answer's header too large")
				       : CURLE_AGAIN;
		*head_len = (size_t)(end - hb->data) + 4;
		if (*head_len > MAX_HEADER_BYTES)
			return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "answer's header too large");
		/* lean_head reads the head as text: a NUL would end a line, or the head, early. */
		if (memchr(hb->data, '\0', *head_len))
			return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "NUL byte in the answer's header");
		/* The head ends at its empty line: what follows is the body, or the next head after a 1xx. */
		save = hb->data[*head_len];
		hb->data[*head_len] = '\0';
		rc = lean_head(c, method, b, keep);
		hb->data[*head_len] = save;
		if (rc != CURLE_OK || c->resp->status >= 200)
			return rc;
		fx_err_ignore(fx_str_mem_move(hb->data, hb->len + 1, hb->data + *head_len, hb->len - *head_len + 1));
		hb->len -= *head_len;
		c->resp->status = 0;
	}
}

/* Reads the answer into c->resp: CURLE_OK (*keep: the connection may serve the next call), or why not. */
static CURLcode lean_read(struct lean_call *c, const char *method, bool *keep)
{
	struct fx_httpc_resp *r = c->resp;
	struct lean_body b = {LEAN_NONE, CH_SIZE, 0, 0, false};
	char io[LEAN_IO_BYTES];
	size_t head_len = 0, got;
	bool in_head = true;
	int fed;
	CURLcode rc;

	r->headers.max = MAX_HEADER_BYTES + sizeof(io); /* a head's last read may bring body bytes along */
	for (;;) {
		rc = lean_recv(c, io, sizeof(io), &got, !c->got_any);
		if (rc != CURLE_OK)
			return rc;
		if (got == 0) { /* closed by the peer */
			if (!c->got_any)
				return lean_fail(c, CURLE_GOT_NOTHING, "empty reply from server");
			if (!in_head && b.framing == LEAN_CLOSE) {
				*keep = false;
				return CURLE_OK;
			}
			return lean_fail(c,
					 in_head || b.framing == LEAN_CHUNKED ? CURLE_RECV_ERROR : CURLE_PARTIAL_FILE,
					 "connection closed before the answer's end");
		}
		c->got_any = true;
		if (!in_head) {
			fed = lean_feed(&b, &r->body, io, got);
		} else {
			if (fx_buf_append(&r->headers, io, got) < 0)
				return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "answer's header too large");
			rc = lean_heads(c, method, &b, keep, &head_len);
			if (rc == CURLE_AGAIN)
				continue;
			if (rc != CURLE_OK)
				return rc;
			in_head = false;
			fed = b.framing == LEAN_NONE ? 1 : 0;
			if (b.framing != LEAN_NONE && r->headers.len > head_len)
				fed = lean_feed(&b, &r->body, r->headers.data + head_len, r->headers.len - head_len);
			else if (b.framing == LEAN_NONE)
				b.extra = r->headers.len > head_len;
			r->headers.len = head_len;
			r->headers.data[head_len] = '\0';
			r->headers.max = MAX_HEADER_BYTES;
		}
		if (fed == -2) {
			c->too_big = true;
			return CURLE_WRITE_ERROR;
		}
		if (fed < 0)
			return lean_fail(c, CURLE_WEIRD_SERVER_REPLY, "malformed chunked body");
		if (fed == 1) {
			*keep = *keep && !b.extra;
			return CURLE_OK;
		}
	}
}

/* One attempt on the lean path: the connection made or reused, the request sent, the answer read. */
static CURLcode lean_perform(struct lean_call *c, const char *method, const struct lean_url *u,
			     const struct fx_buf *text, long connect_timeout)
{
	struct handles *t = c->t;
	CURLcode rc;

	for (int tries = 0;; tries++) {
		bool reused = t->lean && strcmp(t->origin, u->origin) == 0, keep = false;

		if (reused && lean_stale(t)) {
			lean_close(t);
			reused = false;
		}
		if (!reused && (rc = lean_connect(c, u, connect_timeout)) != CURLE_OK)
			return rc;
		curl_easy_setopt(t->lean, CURLOPT_ERRORBUFFER, c->err);
		c->got_any = false;
		fx_buf_reset(&c->resp->body);
		fx_buf_reset(&c->resp->headers);
		c->resp->status = 0;
		rc = lean_send(c, text->data, text->len);
		if (rc == CURLE_OK)
			rc = lean_read(c, method, &keep);
		c->resp->headers.max = MAX_HEADER_BYTES;
		if (rc == CURLE_OK && keep) {
			curl_easy_setopt(t->lean, CURLOPT_ERRORBUFFER, NULL);
			return CURLE_OK;
		}
		lean_close(t);
		/* A kept connection closed while idle: once more on a fresh one, as curl does. */
		if (rc == CURLE_OK || !reused || c->got_any || tries > 0 || rc == CURLE_OPERATION_TIMEDOUT ||
		    c->too_big)
			return rc;
		c->err[0] = '\0';
		c->why = NULL;
	}
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

void fx_httpc_curl_method(void *h, const char *method, const char *body, size_t body_len)
{
	/* GET first: it clears a previous call's POST or HEAD (method, body, no-body). */
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") != 0 ? method : NULL);
	if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
}

/* One attempt through curl_easy_perform on the thread's handle h. */
static CURLcode curl_attempt(CURL *h, const struct fx_httpc_req *req, const char *method, struct curl_slist *hdrs,
			     long left, long connect_timeout, char *curl_err, struct transfer *t, long *connects,
			     double *took_s)
{
	curl_off_t took_us = 0;
	CURLcode rc;

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
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t->resp);
	fx_httpc_curl_method(h, method, req->body, req->body_len);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->resp->status);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, connects) != CURLE_OK)
		*connects = 0;
	if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &took_us) != CURLE_OK)
		took_us = 0;
	*took_s = (double)took_us / 1e6;
	return rc;
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
	struct handles *th = thread_handles();
	struct lean_url u;
	struct fx_buf text;
	bool lean = req->lean && !req->sink && lean_split(req->url, &u) == 0;
	CURLcode rc = CURLE_OK;
	char curl_err[CURL_ERROR_SIZE];
	const char *why = NULL;
	int result = 0;

	if (!th)
		return fx_err_set(e, FX_INTERNAL, "curl handle allocation failed");
	resp->body.max = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
	fx_buf_init(&text, (req->body ? req->body_len : 0) + 2 * MAX_HEADER_BYTES);
	if (lean && lean_request(req, method, &u, &text) < 0)
		lean = false; /* headers over the cap: curl's path says what it makes of them */
	if (!lean) {
		for (const char *const *p = req->headers; p && *p; p++)
			hdrs = curl_slist_append(hdrs, *p);
		/* libcurl would add "Expect: 100-continue" to large bodies: a round trip lost. */
		hdrs = curl_slist_append(hdrs, "Expect:");
	}

	for (int attempt = 0;; attempt++) {
		struct transfer t = {req, resp, false, false};
		long left = deadline - fx_clock_ms(), connects = 0;
		double took_s = 0;

		if (left < 50)
			left = 50;
		fx_buf_reset(&resp->body);
		fx_buf_reset(&resp->headers);
		resp->status = 0;
		resp->attempts = attempt + 1;
		curl_err[0] = '\0';
		why = NULL;
		if (lean) {
			struct lean_call c = {th, req, resp, fx_clock_ms() + left, curl_err, NULL, 0, false, false};
			long t0 = fx_clock_us();

			rc = lean_perform(&c, method, &u, &text, connect_timeout);
			why = c.why;
			connects = c.connects;
			t.too_big = c.too_big;
			took_s = (double)(fx_clock_us() - t0) / 1e6;
		} else {
			rc = curl_attempt(th->h, req, method, hdrs, left, connect_timeout, curl_err, &t, &connects,
					  &took_s);
		}
		fx_metrics_backend(req->service, rc == CURLE_OK ? resp->status : 0, connects, took_s);
		if (t.too_big) {
			result = fx_err_set(e, FX_BAD_GATEWAY, "%s answer exceeds %zu bytes",
					    req->service ? req->service : "backend", resp->body.max);
			goto out;
		}
		if (t.sink_failed) {
			result = fx_err_set(e, FX_CANCELLED, "client went away during a streamed transfer");
			goto out;
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
	if (rc != CURLE_OK) {
		/*
		 * The error reaches the client's answer: the lean path's own words for a malformed
		 * answer, else libcurl's fixed words for what failed. The details (address, port, the
		 * TLS library's text) are for the log.
		 */
		const char *svc = req->service ? req->service : "backend";

		fx_log_warn("%s %s unreachable: %s", svc, method, curl_err[0] ? curl_err : curl_easy_strerror(rc));
		result = fx_err_set(e, FX_UNAVAILABLE, "%s unreachable: %s", svc, why ? why : curl_easy_strerror(rc));
	}
out:
	curl_slist_free_all(hdrs);
	fx_buf_cleanup(&text);
	return result;
}
