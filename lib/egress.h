/*
 * fx_egress: the one client for addresses users choose (channel sites now,
 * merchants' webhook URLs in issue 17). Unlike fx_httpc (Google's fixed
 * hosts) it trusts nothing about the URL: https only (http too with
 * allow_private), no user name or password in the URL, redirects never
 * followed (a 3xx is the answer), no proxy from the environment, and every
 * address a connection is about to be opened to is checked first (curl's
 * open-socket callback), so a name that resolves differently between a check
 * and the call (DNS rebinding) still cannot reach a forbidden address.
 *
 * Forbidden addresses: IPv4 0.0.0.0/8 (unspecified), 127.0.0.0/8 (loopback),
 * 10/8, 172.16/12, 192.168/16 (private), 169.254/16 (link-local),
 * 169.254.169.254 (metadata), 100.64/10 (CGNAT), 224/4 (multicast),
 * 240/4 and 255.255.255.255 (reserved, broadcast), 192.0.0/24, 192.0.2/24,
 * 198.18/15, 198.51.100/24, 203.0.113/24 (reserved); IPv6 :: and ::1, the
 * rest of ::/96 (IPv4-compatible), fc00::/7 (unique local), fe80::/10
 * (link-local), fec0::/10 (site-local), ff00::/8 (multicast), 2001::/32
 * (Teredo), 64:ff9b:1::/48 (local NAT64); ::ffff:0:0/96 (IPv4-mapped),
 * 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) are judged by the IPv4 address
 * they carry. The host names metadata.google.internal and metadata are
 * refused by name. allow_private (demo- projects, for tests on loopback)
 * lifts every rule but the metadata server's.
 *
 * Logs name the service, method, host and status only: never a path, a
 * query string or a header value. Each thread keeps its own curl handle
 * (not fx_httpc's), freed at thread exit.
 */
#ifndef FX_EGRESS_H
#define FX_EGRESS_H

#include "err.h"
#include "httpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Defaults of a call whose request leaves them 0. */
#define FX_EGRESS_DEFAULT_TIMEOUT_MS 10000
#define FX_EGRESS_DEFAULT_MAX_RESPONSE (1024u * 1024)
/* The connect phase's own bound, within the total timeout. */
#define FX_EGRESS_CONNECT_TIMEOUT_MS 5000

struct fx_egress_req {
	const char *method; /* "GET" when NULL */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;
	size_t body_len;
	long timeout_ms; /* 0: 10 s, connect included */
	size_t max_response; /* 0: 1 MiB */
	/*
	 * For callers that ignore the body (webhook deliveries): an answer
	 * longer than max_response is not refused. The transfer ends once
	 * max_response bytes of body are read (the rest is neither read nor
	 * kept; the connection is closed) and the call succeeds with the
	 * status, the headers and those bytes. Callers that read the body
	 * leave it false: a body cut short would parse as something else.
	 */
	bool discard_past_cap;
	bool allow_private; /* demo-* projects only (ignored elsewhere): loopback/private targets and http:// allowed */
	const char *service; /* metrics/log label: "shopify", "webhook", ... */
};

/*
 * Performs one call (never retried here: the caller knows whether its call
 * may be repeated). resp must have been fx_httpc_resp_init'ed; it receives
 * the status, the body (at most max_response bytes) and the final response's
 * header lines (fx_httpc_header reads them: rate-limit headers, Retry-After).
 * Returns 0 when a response arrived (any status, 3xx included), or -1 with
 * 400 INVALID_ARGUMENT for a refused URL or address (the message names the
 * rule, never the URL's path or query), 503 UNAVAILABLE when the host could
 * not be reached or the call timed out, 502 when the answer exceeds the cap
 * (unless req->discard_past_cap).
 */
FX_MUST_USE int fx_egress_do(const struct fx_egress_req *req, struct fx_httpc_resp *resp, struct fx_err *e);

/*
 * The same check on a URL when it is stored (a channel's base URL, a webhook
 * URL): the URL's rules, then every address its host resolves to must be
 * allowed. Returns 0, or -1 with 400 INVALID_ARGUMENT (a refused URL, a host
 * that does not resolve, a forbidden address) or 503 UNAVAILABLE (the
 * resolver failed for a while). A pass does not make later calls safe by
 * itself: fx_egress_do checks again on every connection.
 */
FX_MUST_USE int fx_egress_check_url(const char *url, bool allow_private, struct fx_err *e);

/*
 * The rule that forbids connecting to sa ("loopback", "private",
 * "metadata", ...), a static string, or NULL when it is allowed. A family
 * other than AF_INET and AF_INET6 is always forbidden ("not an internet
 * address").
 */
const char *fx_egress_forbidden(const struct sockaddr *sa, bool allow_private);

/*
 * Whether allow_private may take effect: no configuration is set (unit
 * tests) or its project is a demo- one. fx_egress_do and
 * fx_egress_check_url treat allow_private as false otherwise, so a stray
 * flag in production cannot open the private ranges.
 */
bool fx_egress_private_allowed(void);

/* Frees this thread's handle (also done at thread exit). */
void fx_egress_thread_cleanup(void);

#endif
