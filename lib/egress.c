#include "egress.h"

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "str.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOST_MAX 256

/*
 * Each thread's handle, and the allow_private of the calls it served: a
 * connection kept open for a demo call must never carry a call that
 * forbids private addresses, so a change of mode starts a new handle.
 */
struct handle {
	CURL *h;
	bool allow_private;
};

static pthread_key_t handle_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void free_handle(void *p)
{
	struct handle *t = p;

	if (!t)
		return;
	curl_easy_cleanup(t->h);
	free(t);
}

static void make_key(void)
{
	pthread_key_create(&handle_key, free_handle);
}

void fx_egress_thread_cleanup(void)
{
	pthread_once(&key_once, make_key);
	free_handle(pthread_getspecific(handle_key));
	pthread_setspecific(handle_key, NULL);
}

static CURL *thread_handle(bool allow_private)
{
	struct handle *t;

	pthread_once(&key_once, make_key);
	t = pthread_getspecific(handle_key);
	if (t && t->allow_private != allow_private) {
		fx_egress_thread_cleanup();
		t = NULL;
	}
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->h = curl_easy_init();
		t->allow_private = allow_private;
		if (!t->h) {
			free(t);
			return NULL;
		}
		pthread_setspecific(handle_key, t);
	}
	return t->h;
}

/* ---- the address rules ---- */

static bool in4(uint32_t a, uint32_t net, int bits)
{
	uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);

	return (a & mask) == net;
}

/* The rule forbidding IPv4 address a (host order), or NULL. The metadata server comes first: always refused. */
static const char *rule4(uint32_t a, bool allow_private)
{
	const char *rule = NULL;

	if (a == 0xa9fea9feu) /* 169.254.169.254 */
		return "metadata";
	if (in4(a, 0x00000000u, 8))
		rule = "unspecified";
	else if (in4(a, 0x7f000000u, 8))
		rule = "loopback";
	else if (in4(a, 0x0a000000u, 8) || in4(a, 0xac100000u, 12) || in4(a, 0xc0a80000u, 16))
		rule = "private";
	else if (in4(a, 0xa9fe0000u, 16))
		rule = "link-local";
	else if (in4(a, 0x64400000u, 10))
		rule = "CGNAT";
	else if (in4(a, 0xe0000000u, 4))
		rule = "multicast";
	else if (a == 0xffffffffu)
		rule = "broadcast";
	else if (in4(a, 0xf0000000u, 4) || in4(a, 0xc0000000u, 24) || in4(a, 0xc0000200u, 24) ||
		 in4(a, 0xc6120000u, 15) || in4(a, 0xc6336400u, 24) || in4(a, 0xcb007100u, 24))
		rule = "reserved";
	return allow_private ? NULL : rule;
}

static uint32_t v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The rule forbidding IPv6 address a, or NULL; addresses carrying an IPv4 one are judged by it. */
static const char *rule6(const unsigned char *a, bool allow_private)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const unsigned char zeros[12] = {0};
	const char *rule = NULL;

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return rule4(v4_at(a + 12), allow_private);
	if (a[0] == 0x20 && a[1] == 0x02) /* 2002::/16, 6to4: the IPv4 address is bytes 2..5 */
		return rule4(v4_at(a + 2), allow_private);
	if (memcmp(a, zeros, 12) == 0) {
		uint32_t low = v4_at(a + 12);

		rule = low == 0 ? "unspecified" : low == 1 ? "loopback" : "reserved";
	} else if ((a[0] & 0xfe) == 0xfc) {
		rule = "unique-local";
	} else if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
		rule = "link-local";
	} else if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) {
		rule = "site-local";
	} else if (a[0] == 0xff) {
		rule = "multicast";
	} else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		rule = "reserved"; /* Teredo */
	} else if (a[0] == 0 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1) {
		rule = "reserved"; /* local-use NAT64 */
	}
	return allow_private ? NULL : rule;
}

const char *fx_egress_forbidden(const struct sockaddr *sa, bool allow_private)
{
	if (sa && sa->sa_family == AF_INET)
		return rule4(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr), allow_private);
	if (sa && sa->sa_family == AF_INET6)
		return rule6(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, allow_private);
	return "not an internet address";
}

bool fx_egress_private_allowed(void)
{
	const struct fx_config *c = fx_config_get();

	return !c || (c->project && strncmp(c->project, "demo-", 5) == 0);
}

/* ---- the URL rules ---- */

/* Whether host names the metadata server (any case, with or without the final dot). */
static bool metadata_name(const char *host)
{
	size_t n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	return (n == 24 && strncasecmp(host, "metadata.google.internal", 24) == 0) ||
	       (n == 8 && strncasecmp(host, "metadata", 8) == 0);
}

/*
 * Checks url's scheme, user information and host name; copies the host
 * (brackets of an IPv6 literal removed) into host. 400 INVALID_ARGUMENT
 * naming the rule; the URL itself is never quoted.
 */
static int check_url(const char *url, bool allow_private, char *host, size_t host_len, struct fx_err *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *user = NULL, *password = NULL;
	int rc = -1;

	if (!u)
		return fx_err_set(e, FX_INTERNAL, "curl URL allocation failed");
	if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !*h) {
		fx_err_set(e, FX_INVALID_ARGUMENT, "the URL is not an absolute http(s) URL with a host");
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0 && !(allow_private && strcasecmp(scheme, "http") == 0)) {
		fx_err_set(e, FX_INVALID_ARGUMENT, "only https URLs are allowed");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
		fx_err_set(e, FX_INVALID_ARGUMENT, "the URL must not carry a user name or password");
		goto out;
	}
	if (h[0] == '[') {
		size_t n = strlen(h);

		if (n < 3 || h[n - 1] != ']' || fx_str_copy(host, host_len, h + 1, n - 2) < 0) {
			fx_err_set(e, FX_INVALID_ARGUMENT, "the URL's host is not a valid address");
			goto out;
		}
	} else if (fx_str_set(host, host_len, h) < 0) {
		fx_err_set(e, FX_INVALID_ARGUMENT, "the URL's host name is too long");
		goto out;
	}
	if (metadata_name(host)) {
		fx_err_set(e, FX_INVALID_ARGUMENT, "the URL's host is refused: metadata");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return rc;
}

int fx_egress_check_url(const char *url, bool allow_private, struct fx_err *e)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char host[HOST_MAX];
	int g;

	allow_private = allow_private && fx_egress_private_allowed();
	if (check_url(url, allow_private, host, sizeof(host), e) < 0)
		return -1;
	g = getaddrinfo(host, NULL, &hints, &res);
	if (g == EAI_AGAIN || g == EAI_SYSTEM || g == EAI_MEMORY)
		return fx_err_set(e, FX_UNAVAILABLE, "the URL's host could not be resolved now: %s", gai_strerror(g));
	if (g != 0 || !res)
		return fx_err_set(e, FX_INVALID_ARGUMENT, "the URL's host does not resolve");
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		const char *rule = fx_egress_forbidden(ai->ai_addr, allow_private);

		if (rule) {
			freeaddrinfo(res);
			return fx_err_set(e, FX_INVALID_ARGUMENT, "the URL's host resolves to a refused address: %s",
					  rule);
		}
	}
	freeaddrinfo(res);
	return 0;
}

/* ---- the call ---- */

struct transfer {
	struct fx_httpc_resp *resp;
	bool allow_private;
	bool discard_past_cap; /* the request's */
	bool too_big; /* the body ran past the cap */
	const char *refused; /* the rule of the last address refused, or NULL */
};

static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct transfer *t = ctx;
	const char *rule;

	if (purpose != CURLSOCKTYPE_IPCXN) {
		t->refused = "not an internet address";
		return CURL_SOCKET_BAD;
	}
	rule = fx_egress_forbidden(&a->addr, t->allow_private);
	if (rule) {
		t->refused = rule;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Keeps the body up to its cap; a piece past it ends the transfer (0). */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *t = ctx;
	struct fx_buf *body = &t->resp->body;
	size_t n = size * nmemb;

	if (fx_buf_append(body, p, n) == 0)
		return n;
	t->too_big = true;
	/* The bytes up to the cap fit, so this append cannot fail. */
	if (t->discard_past_cap)
		fx_err_ignore(fx_buf_append(body, p, body->max - body->len));
	return 0;
}

int fx_egress_do(const struct fx_egress_req *req, struct fx_httpc_resp *resp, struct fx_err *e)
{
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : FX_EGRESS_DEFAULT_TIMEOUT_MS;
	size_t cap = req->max_response ? req->max_response : FX_EGRESS_DEFAULT_MAX_RESPONSE;
	const char *method = req->method ? req->method : "GET";
	const char *service = req->service ? req->service : "egress";
	bool allow_private = req->allow_private && fx_egress_private_allowed();
	struct transfer t = {resp, allow_private, req->discard_past_cap, false, NULL};
	struct curl_slist *hdrs = NULL;
	char host[HOST_MAX];
	curl_off_t took_us = 0;
	long connects = 0;
	CURLcode rc;
	CURL *h;

	if (check_url(req->url, allow_private, host, sizeof(host), e) < 0) {
		fx_log_warn("egress %s %s refused: %s", service, method, e->message);
		return -1;
	}
	h = thread_handle(allow_private);
	if (!h)
		return fx_err_set(e, FX_INTERNAL, "curl handle allocation failed");
	for (const char *const *p = req->headers; p && *p; p++)
		hdrs = curl_slist_append(hdrs, *p);
	/* libcurl would add "Expect: 100-continue" to large bodies: a round trip lost. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	resp->status = 0;
	resp->attempts = 1;
	resp->body.max = cap;
	fx_buf_reset(&resp->body);
	fx_buf_reset(&resp->headers);

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, allow_private ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &t);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout < FX_EGRESS_CONNECT_TIMEOUT_MS ? timeout : (long)FX_EGRESS_CONNECT_TIMEOUT_MS);
	if (!req->discard_past_cap) /* refused on a declared length, before any body is read */
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "Fluxori/1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fx_httpc_header_line);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	fx_httpc_curl_method(h, method, req->body, req->body_len);

	rc = curl_easy_perform(h);
	if (rc == CURLE_WRITE_ERROR && t.too_big && t.discard_past_cap)
		rc = CURLE_OK; /* the answer, its body cut at the cap */
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK)
		connects = 0;
	if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &took_us) != CURLE_OK)
		took_us = 0;
	/* Nothing of these options may outlive the call: hdrs and t are freed or gone below. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, NULL);
	curl_slist_free_all(hdrs);
	fx_metrics_backend(service, rc == CURLE_OK ? resp->status : 0, connects, (double)took_us / 1e6);

	if ((t.too_big && !t.discard_past_cap) || rc == CURLE_FILESIZE_EXCEEDED) {
		fx_log_warn("egress %s %s %s: answer over %zu bytes", service, method, host, cap);
		return fx_err_set(e, FX_BAD_GATEWAY, "%s answer exceeds %zu bytes", service, cap);
	}
	if (rc != CURLE_OK && t.refused) {
		fx_log_warn("egress %s %s %s refused: address %s", service, method, host, t.refused);
		return fx_err_set(e, FX_INVALID_ARGUMENT, "the URL's host resolves to a refused address: %s",
				  t.refused);
	}
	if (rc != CURLE_OK) {
		fx_log_warn("egress %s %s %s unreachable: %s", service, method, host, curl_easy_strerror(rc));
		return fx_err_set(e, FX_UNAVAILABLE, "%s unreachable: %s", service, curl_easy_strerror(rc));
	}
	fx_log_debug("egress %s %s %s -> %ld in %.3f s%s", service, method, host, resp->status, (double)took_us / 1e6,
		     t.too_big ? ", body cut at the cap" : "");
	return 0;
}
