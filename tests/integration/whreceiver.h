/*
 * whreceiver: a merchant's webhook endpoint for tests (issue 17), a small
 * HTTP server on 127.0.0.1 (one thread per connection, each answer closes
 * its connection). It verifies X-Fluxori-Signature exactly as
 * docs/webhooks.md tells merchants to (whreceiver_verify), records every
 * request it gets (delivery id, event, body, whether the signature held,
 * what it answered, when), and answers 2xx to a valid delivery, 400 to an
 * invalid one -- unless told to fail (a status), to wait before answering
 * (slow, or past the sender's 10 s timeout: a hang), or to redirect.
 * Everything returned is owned by the receiver unless said otherwise;
 * failures to start return NULL, nothing here aborts a test by itself.
 */
#ifndef FX_TEST_WHRECEIVER_H
#define FX_TEST_WHRECEIVER_H

#include <stdbool.h>
#include <stddef.h>

/* How far t may be from the receiver's clock, either way (docs/webhooks.md). */
#define WHRECEIVER_TOLERANCE_S 300

/* The most secrets the receiver holds at once (the current and the previous one during a rotation). */
#define WHRECEIVER_MAX_SECRETS 4

struct whreceiver;

/* One request the receiver got, in arrival order. */
struct whreceiver_delivery {
	char method[16];
	char path[256];
	char delivery[128]; /* X-Fluxori-Delivery, "" when absent */
	char event[64]; /* X-Fluxori-Event, "" when absent */
	char signature[512]; /* X-Fluxori-Signature as sent, "" when absent */
	char *body; /* NUL-terminated; body_len bytes */
	size_t body_len;
	bool valid; /* the signature verified against one of the secrets */
	const char *why; /* when not valid: the rule it broke (static) */
	int status; /* what the receiver answered, 0 when it gave up before answering (stopped) */
	long at_ms; /* fx_clock_ms() at arrival */
};

/*
 * The verification docs/webhooks.md describes, on its own: header is the
 * X-Fluxori-Signature value, body the raw bytes, secrets the nsecrets the
 * merchant holds (the HMAC key is each secret string as shown, whsec_
 * prefix included), now the receiver's unix time. True when the header
 * has exactly one t= (decimal digits), |now - t| <= WHRECEIVER_TOLERANCE_S
 * and some v1= entry equals the lower-case hex HMAC-SHA256(secret,
 * "<t>.<body>") of some secret, compared in constant time; unknown
 * entries (v0=, v2=) are ignored. When false, *why (may be NULL) names
 * the rule: "no signature", "malformed", "no timestamp", "too old", "too
 * new", "no v1", "no match".
 */
bool whreceiver_verify(const char *header, const char *body, size_t body_len, const char *const *secrets,
		       size_t nsecrets, long long now, const char **why);

/* Starts the receiver on an ephemeral port, holding no secret yet; NULL when it cannot. */
struct whreceiver *whreceiver_start(void);

/* Stops it (a waiting answer ends at once, unanswered) and frees everything; accepts NULL. */
void whreceiver_stop(struct whreceiver *w);

/* "http://127.0.0.1:PORT/hooks/fluxori", valid until whreceiver_stop. */
const char *whreceiver_url(const struct whreceiver *w);

/* The secrets (at most WHRECEIVER_MAX_SECRETS, copied) a delivery may be signed with from now on. */
void whreceiver_set_secrets(struct whreceiver *w, const char *const *secrets, size_t n);

/* ---- what the receiver is told ---- */

/* The next n requests (n < 0: every one until told otherwise, 0: none) answer status, valid or not. */
void whreceiver_fail(struct whreceiver *w, int n, int status);

/*
 * From now every request waits ms before it is answered (0: at once
 * again): below the sender's 10 s timeout a slow receiver, past it a hang.
 * Changing it wakes the requests waiting now, which then answer.
 */
void whreceiver_delay(struct whreceiver *w, long ms);

/* Waits until n requests are waiting in a delay at once; false when deadline_ms passed first. */
bool whreceiver_wait_delayed(struct whreceiver *w, int n, long deadline_ms);

/* From now every request is answered 302 Found with Location: location (NULL: no more redirects). */
void whreceiver_redirect(struct whreceiver *w, const char *location);

/*
 * From now every 2xx answer carries a JSON body of exactly bytes bytes
 * (a receiver answering a whole page; 0 or below 64: the short one again).
 */
void whreceiver_pad(struct whreceiver *w, size_t bytes);

/* ---- what the receiver saw ---- */

/* How many requests arrived so far (answered or not). */
size_t whreceiver_count(struct whreceiver *w);

/* How many were valid and answered 2xx: the deliveries a merchant accepted. */
size_t whreceiver_accepted(struct whreceiver *w);

/* How many accepted deliveries carried X-Fluxori-Delivery id. */
size_t whreceiver_accepted_id(struct whreceiver *w, const char *id);

/* Waits until at least n deliveries were accepted; false when deadline_ms passed first. */
bool whreceiver_wait_accepted(struct whreceiver *w, size_t n, long deadline_ms);

/* Waits until at least n requests arrived; false when deadline_ms passed first. */
bool whreceiver_wait_count(struct whreceiver *w, size_t n, long deadline_ms);

/*
 * A copy of request i (0 = the first) into out, its body malloc'd (free
 * with whreceiver_delivery_free); false when there is no request i.
 */
bool whreceiver_get(struct whreceiver *w, size_t i, struct whreceiver_delivery *out);
void whreceiver_delivery_free(struct whreceiver_delivery *d);

/* Forgets every request recorded so far. */
void whreceiver_clear(struct whreceiver *w);

#endif
