#include "http.h"

#include "config.h"
#include "json.h"
#include "mem.h"
#include "num.h"
#include "str.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_HEADER_BYTES 8192 /* the extra header lines of one response */
/* The whole head: nginx's fastcgi_buffer_size (16k) must hold it. */
#define MAX_HEAD_BYTES 12288
#define XSTR_(x) #x
#define XSTR(x) XSTR_(x)

const char *fx_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

const char *fx_http_req_env(const struct fx_req *r, const char *name)
{
	return r->envp ? FCGX_GetParam(name, r->envp) : NULL;
}

const char *fx_http_req_header(const struct fx_req *r, const char *name)
{
	char key[128] = "HTTP_";
	size_t i, n = strlen(name);

	if (n + 6 > sizeof(key))
		return NULL;
	for (i = 0; i < n && 5 + i + 1 < sizeof(key); i++)
		key[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	key[5 + n] = '\0';
	/* CGI keeps these two without the HTTP_ prefix. */
	if (strcmp(key, "HTTP_CONTENT_TYPE") == 0 || strcmp(key, "HTTP_CONTENT_LENGTH") == 0)
		return fx_http_req_env(r, key + 5);
	return fx_http_req_env(r, key);
}

/* s[0..n) without surrounding blanks, into out when it is an IP address. */
static bool take_address(const char *s, size_t n, char *out, size_t len)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char ip[INET6_ADDRSTRLEN + 1];

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || fx_str_copy(ip, sizeof(ip), s, n) < 0)
		return false;
	if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)
		return false;
	return fx_str_set(out, len, ip) == 0;
}

int fx_http_forwarded_client(const char *xff, bool front_end, char *out, size_t len)
{
	const char *end, *last, *prev, *start;

	if (!front_end || !xff || !*xff)
		return -1;
	end = xff + strlen(xff);
	last = memrchr(xff, ',', (size_t)(end - xff));
	if (!last)
		return take_address(xff, (size_t)(end - xff), out, len) ? 0 : -1;
	prev = memrchr(xff, ',', (size_t)(last - xff));
	start = prev ? prev + 1 : xff;
	return take_address(start, (size_t)(last - start), out, len) ? 0 : -1;
}

const char *fx_http_req_client_ip(const struct fx_req *r)
{
	const struct fx_config *c = fx_config_get();
	const char *ip = NULL;
	char found[INET6_ADDRSTRLEN + 1];

	if (fx_http_forwarded_client(fx_http_req_env(r, "FLUXORI_FORWARDED_FOR"), c && c->k_service, found,
				     sizeof(found)) == 0)
		ip = fx_arena_strdup(r->arena, found);
	return ip ? ip : fx_http_req_env(r, "REMOTE_ADDR");
}

/* nbytes (at most 32) random bytes as hex into out of size bytes ("" if they do not fit). */
/*
 * A fresh request id: 16 bytes as 32 hex digits, unique, not secret. Each
 * thread seeds 16 bytes from getrandom once; each id is then two 64-bit
 * mixes (splitmix64's finaliser, a bijection) of the thread's counter, so a
 * thread never repeats one, and two threads or processes collide only if
 * their random seeds do. nginx used to make it ($request_id: OpenSSL's
 * RAND_bytes and a getpid per request, a sixth of its CPU for /health);
 * a getrandom per request cost the worker 2 µs.
 */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void new_request_id(char *out, size_t size)
{
	static __thread uint64_t seed[2], counter;
	static __thread bool seeded;
	unsigned char raw[16];
	uint64_t a, b;

	if (!seeded) {
		if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
			struct timespec ts;

			/* Uniqueness, not secrecy, is what a request id needs. */
			clock_gettime(CLOCK_REALTIME, &ts);
			seed[0] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
			seed[1] = (uint64_t)(uintptr_t)&counter ^ ((uint64_t)getpid() << 32);
		}
		seeded = true;
	}
	counter++;
	a = mix64(seed[0] + counter * 0x9e3779b97f4a7c15ULL);
	b = mix64(seed[1] ^ counter);
	for (int i = 0; i < 8; i++) {
		raw[i] = (unsigned char)(a >> (i * 8));
		raw[8 + i] = (unsigned char)(b >> (i * 8));
	}
	if (fx_str_hex(out, size, raw, sizeof(raw)) < 0 && size)
		out[0] = '\0';
}

static bool sane_request_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.:", s[i]))
			return false;
	return true;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* traceparent first, then X-Cloud-Trace-Context (span id is decimal there). */
static void parse_trace(struct fx_req *r)
{
	const char *tp = fx_http_req_header(r, "traceparent");
	const char *xc = fx_http_req_header(r, "X-Cloud-Trace-Context");

	if (tp && strlen(tp) == 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-' && all_hex(tp + 3, 32) &&
	    all_hex(tp + 36, 16)) {
		if (fx_str_copy(r->trace_id, sizeof(r->trace_id), tp + 3, 32) < 0 ||
		    fx_str_copy(r->span_id, sizeof(r->span_id), tp + 36, 16) < 0) {
			r->trace_id[0] = r->span_id[0] = '\0';
			return;
		}
		for (int i = 0; i < 32; i++)
			r->trace_id[i] = (char)tolower((unsigned char)r->trace_id[i]);
		r->sampled = (tp[54] - '0') & 1;
		return;
	}
	if (xc && strlen(xc) >= 32 && all_hex(xc, 32)) {
		if (fx_str_copy(r->trace_id, sizeof(r->trace_id), xc, 32) < 0)
			return;
		if (xc[32] == '/') {
			char digits[24];
			uint64_t span;

			/* "/SPAN;o=N": a span id that is not all digits, or does not fit 64 bits, is left out. */
			if (fx_str_copy(digits, sizeof(digits), xc + 33, strcspn(xc + 33, ";")) == 0 &&
			    fx_num_parse_u64(digits, UINT64_MAX, &span, NULL) == 0 &&
			    fx_str_fmt(r->span_id, sizeof(r->span_id), "%016" PRIx64, span) < 0)
				r->span_id[0] = '\0';
			r->sampled = strstr(xc, ";o=1") != NULL;
		}
	}
}

static int parse_query(struct fx_req *r, struct fx_err *e)
{
	const char *p = r->query;

	while (*p) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *kend = eq ? eq : end;
		char *name, *value;

		if (end == p) {
			p++;
			continue;
		}
		if (r->nq >= FX_MAX_QUERY_PARAMS)
			return fx_err_set(e, FX_INVALID_ARGUMENT, "too many query parameters");
		name = fx_router_percent_decode(r->arena, p, (size_t)(kend - p), 1);
		value = eq ? fx_router_percent_decode(r->arena, eq + 1, (size_t)(end - eq - 1), 1)
			   : fx_arena_strdup(r->arena, "");
		if (!name || !value || !fx_json_utf8_valid(value, strlen(value)))
			return fx_err_set(e, FX_INVALID_ARGUMENT, "malformed query string");
		r->qparams[r->nq].name = name;
		r->qparams[r->nq].value = value;
		r->nq++;
		p = amp ? amp + 1 : end;
	}
	return 0;
}

int fx_http_req_init(struct fx_req *r, FCGX_ParamArray envp, FCGX_Stream *in, FCGX_Stream *out, struct fx_arena *arena,
		     struct fx_err *e)
{
	const char *uri, *q, *rid;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	r->envp = envp;
	r->in = in;
	r->out = out;
	r->arena = arena;
	fx_buf_init(&r->headers, MAX_HEADER_BYTES);

	/* The client's id when it sent a sane one, else a fresh one (nginx sends none). */
	rid = fx_http_req_header(r, "X-Request-Id");
	if (!sane_request_id(rid) || fx_str_set(r->request_id, sizeof(r->request_id), rid) < 0)
		new_request_id(r->request_id, sizeof(r->request_id));
	parse_trace(r);

	r->method = fx_http_req_env(r, "REQUEST_METHOD");
	if (!r->method)
		r->method = "GET";
	uri = fx_http_req_env(r, "REQUEST_URI");
	if (!uri || uri[0] != '/') {
		r->path = "/";
		r->query = "";
		return fx_err_set(e, FX_INVALID_ARGUMENT, "malformed request target");
	}
	q = strchr(uri, '?');
	if (q) {
		r->path = fx_arena_strndup(arena, uri, (size_t)(q - uri));
		r->query = q + 1;
	} else {
		r->path = uri;
		r->query = "";
	}
	if (!r->path)
		return fx_err_set(e, FX_PAYLOAD_TOO_LARGE, "request target too long");
	return parse_query(r, e);
}

void fx_http_req_cleanup(struct fx_req *r)
{
	if (r)
		fx_buf_cleanup(&r->headers);
}

const char *fx_http_req_query(const struct fx_req *r, const char *name)
{
	for (int i = 0; i < r->nq; i++)
		if (strcmp(r->qparams[i].name, name) == 0)
			return r->qparams[i].value;
	return NULL;
}

int fx_http_req_query_allow(const struct fx_req *r, const char *const *allowed, struct fx_err *e)
{
	for (int i = 0; i < r->nq; i++) {
		if (fx_json_enum_index(r->qparams[i].name, allowed) < 0) {
			char field[96];

			fx_str_text(field, sizeof(field), "%.80s", r->qparams[i].name);
			return fx_err_invalid(e, field, "unknown query parameter");
		}
		for (int j = 0; j < i; j++)
			if (strcmp(r->qparams[i].name, r->qparams[j].name) == 0)
				return fx_err_invalid(e, r->qparams[i].name, "given more than once");
	}
	return 0;
}

const char *fx_http_req_param(const struct fx_req *r, const char *name)
{
	return fx_router_params_get(&r->params, name);
}

int fx_http_req_content_length(const struct fx_req *r, uint64_t *n)
{
	const char *cl = fx_http_req_env(r, "CONTENT_LENGTH");

	if (!cl || !*cl) {
		*n = 0;
		return 0;
	}
	return fx_num_parse_u64(cl, UINT64_MAX, n, NULL);
}

int fx_http_req_read_body(struct fx_req *r, size_t max, struct fx_err *e)
{
	uint64_t declared;
	char *body;
	size_t got = 0;

	if (fx_http_req_content_length(r, &declared) < 0)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "malformed Content-Length");
	if (declared > max)
		return fx_err_set(e, FX_PAYLOAD_TOO_LARGE, "request body exceeds %zu bytes", max);
	if (declared == 0)
		return 0;
	body = fx_arena_alloc(r->arena, (size_t)declared + 1);
	if (!body)
		return fx_err_set(e, FX_PAYLOAD_TOO_LARGE, "request body exceeds %zu bytes", max);
	while (got < declared) {
		int n = FCGX_GetStr(body + got, (int)(declared - got > 65536 ? 65536 : declared - got), r->in);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != declared)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "request body shorter than Content-Length");
	body[got] = '\0';
	r->body = body;
	r->body_len = got;
	return 0;
}

int fx_http_req_drain(struct fx_req *r, size_t max)
{
	char sink[8192];
	size_t left = max;

	if (!r->in)
		return 0;
	for (;;) {
		/* One byte more than what may be left, so input over max shows. */
		size_t want = left < sizeof(sink) ? left + 1 : sizeof(sink);
		int n = FCGX_GetStr(sink, (int)want, r->in);

		if (n < 0 || FCGX_GetError(r->in) != 0)
			return -1;
		if ((size_t)n > left)
			return -1;
		left -= (size_t)n;
		if ((size_t)n < want)
			return 0; /* GetStr returns short only at the end of the input */
	}
}

int fx_http_req_json(struct fx_req *r, bool allow_empty, json_object **out, struct fx_err *e)
{
	if (r->body_len == 0) {
		if (!allow_empty)
			return fx_err_set(e, FX_INVALID_ARGUMENT, "request body is required");
		*out = json_object_new_object();
		return 0;
	}
	return fx_json_parse_object(r->body, r->body_len, out, e);
}

/* An RFC 9110 token: what a header name must be. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

/*
 * What may follow "Name: " on one line: no control byte but HTAB (so no
 * CR, LF or NUL), at most FX_RESP_VALUE_MAX bytes. Bytes from 0x80 up are
 * obs-text to RFC 9110 and pass, so stored UTF-8 comes back as it was.
 */
static bool value_ok(const char *v)
{
	size_t n;

	for (n = 0; v[n]; n++) {
		unsigned char c = (unsigned char)v[n];

		if (n >= FX_RESP_VALUE_MAX || (c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Remembers why the response cannot be sent; the first reason wins. */
static void refuse(struct fx_req *r, const char *why)
{
	if (!r->refused)
		r->refused = why;
}

void fx_http_resp_header(struct fx_req *r, const char *name, const char *value)
{
	if (!is_token(name))
		refuse(r, "a response header name is not a token");
	else if (!value_ok(value))
		refuse(r, "a response header value has a control byte or is over " XSTR(FX_RESP_VALUE_MAX) " bytes");
	else if (fx_buf_printf(&r->headers, "%s: %s\r\n", name, value) < 0)
		refuse(r, "the response headers are over " XSTR(MAX_HEADER_BYTES) " bytes");
}

static int put(struct fx_req *r, const void *p, size_t n)
{
	if (!r->out)
		return -1;
	while (n > 0) {
		int chunk = n > (1u << 30) ? (1 << 30) : (int)n;

		if (FCGX_PutStr(p, chunk, r->out) != chunk)
			return -1;
		p = (const char *)p + chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

void fx_http_resp_break(struct fx_req *r)
{
	r->broken = true;
}

int fx_http_resp_start(struct fx_req *r, int status, const char *content_type, long long content_length)
{
	struct fx_buf head;
	int bad;

	if (r->status)
		return -1; /* a response already started: a handler bug, never send two */
	if (content_type && !value_ok(content_type))
		refuse(r, "the Content-Type has a control byte or is over " XSTR(FX_RESP_VALUE_MAX) " bytes");
	if (r->refused)
		return -1;
	fx_buf_init(&head, MAX_HEAD_BYTES);
	/* Appends, not printf: fx_buf_printf formats twice (length, then text), on every answer. */
	bad = fx_buf_puts(&head, "Status: ") < 0 || fx_buf_put_uint(&head, (unsigned)status) < 0 ||
	      fx_buf_puts(&head, " ") < 0 || fx_buf_puts(&head, fx_http_reason(status)) < 0 ||
	      fx_buf_puts(&head, "\r\nX-Request-Id: ") < 0 || fx_buf_puts(&head, r->request_id) < 0 ||
	      fx_buf_puts(&head, "\r\nCache-Control: no-store\r\n") < 0;
	if (content_type)
		bad |= fx_buf_puts(&head, "Content-Type: ") < 0 || fx_buf_puts(&head, content_type) < 0 ||
		       fx_buf_puts(&head, "\r\n") < 0;
	if (content_length >= 0)
		bad |= fx_buf_puts(&head, "Content-Length: ") < 0 ||
		       fx_buf_put_uint(&head, (unsigned long long)content_length) < 0 || fx_buf_puts(&head, "\r\n") < 0;
	bad |= fx_buf_append(&head, r->headers.data ? r->headers.data : "", r->headers.len) < 0;
	bad |= fx_buf_append(&head, "\r\n", 2) < 0;
	if (bad) {
		fx_buf_cleanup(&head);
		refuse(r, "the response head is over " XSTR(MAX_HEAD_BYTES) " bytes");
		return -1;
	}
	r->status = status;
	bad = put(r, head.data, head.len);
	fx_buf_cleanup(&head);
	return bad;
}

int fx_http_resp_write(struct fx_req *r, const void *p, size_t n)
{
	if (put(r, p, n) < 0)
		return -1;
	r->resp_bytes += n;
	return 0;
}

int fx_http_resp_send(struct fx_req *r, int status, const char *content_type, const void *body, size_t len)
{
	if (fx_http_resp_start(r, status, len ? content_type : NULL, (long long)len) < 0)
		return -1;
	return len ? fx_http_resp_write(r, body, len) : 0;
}

int fx_http_resp_json(struct fx_req *r, int status, json_object *obj)
{
	size_t len;
	const char *text = fx_json_text(obj, &len);

	return fx_http_resp_send(r, status, "application/json", text, len);
}

int fx_http_resp_error(struct fx_req *r, const struct fx_err *e)
{
	struct fx_buf b;
	struct fx_err refused;
	enum fx_code kind;
	int code, rc, bad;
	const char *status;

	if (r->refused) {
		/*
		 * The answer the handler meant could not be sent: whatever error
		 * followed, this is a defect of ours, and none of that answer's
		 * headers may go out with the error.
		 */
		fx_err_clear(&refused);
		fx_err_set(&refused, FX_INTERNAL, "response not sent: %s", r->refused);
		e = &refused;
		r->refused = NULL;
		fx_buf_reset(&r->headers);
	}
	kind = fx_err_is(e, FX_OK) ? FX_INTERNAL : e->kind;
	code = fx_err_http(kind);
	status = fx_err_name(kind);
	/* At most ~30 KiB: a 255-byte message and 16 details of 96 + 160 bytes, each byte escaped to 6. */
	fx_buf_init(&b, 65536);
	bad = fx_buf_printf(&b, "{\"error\":{\"code\":%d,\"status\":\"%s\",\"message\":", code, status) < 0;
	bad |= fx_buf_json_string(&b, e->message, strlen(e->message)) < 0;
	if (e->ndetails) {
		bad |= fx_buf_puts(&b, ",\"details\":[") < 0;
		for (int i = 0; i < e->ndetails; i++) {
			bad |= fx_buf_printf(&b, "%s{\"field\":", i ? "," : "") < 0;
			bad |= fx_buf_json_string(&b, e->details[i].field, strlen(e->details[i].field)) < 0;
			bad |= fx_buf_puts(&b, ",\"reason\":") < 0;
			bad |= fx_buf_json_string(&b, e->details[i].reason, strlen(e->details[i].reason)) < 0;
			bad |= fx_buf_puts(&b, "}") < 0;
		}
		bad |= fx_buf_puts(&b, "]") < 0;
	}
	bad |= fx_buf_printf(&b, ",\"requestId\":\"%s\"}}", r->request_id) < 0;
	if (bad) {
		static const char over[] =
			"{\"error\":{\"code\":500,\"status\":\"INTERNAL\",\"message\":\"error body over "
			"its bound\"}}";

		fx_buf_reset(&b);
		code = 500;
		status = "INTERNAL";
		if (fx_buf_append(&b, over, sizeof(over) - 1) < 0) {
			fx_buf_cleanup(&b);
			return -1;
		}
	}
	if (code == 401)
		fx_http_resp_header(r, "WWW-Authenticate", "Bearer");
	if (e->retry_after > 0) {
		char secs[16];

		if (fx_str_fmt(secs, sizeof(secs), "%d", e->retry_after) == 0)
			fx_http_resp_header(r, "Retry-After", secs);
	}
	r->err_status = status;
	fx_str_text(r->err_message, sizeof(r->err_message), "%s", e->message);
	rc = fx_http_resp_send(r, code, "application/json", b.data, b.len);
	fx_buf_cleanup(&b);
	return rc;
}
