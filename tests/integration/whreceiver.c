/*
 * whreceiver: a merchant's webhook endpoint for tests (see whreceiver.h).
 * The signature check uses OpenSSL directly, not lib/sig, so that it stays
 * an independent reading of docs/webhooks.md rather than the sender's own
 * code checking itself.
 */
#include "whreceiver.h"

#include "clock.h"
#include "httpserve.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST (4u << 20)
#define MAX_RECORDS 262144u
#define MAX_V1 8
#define SECRET_MAX 256
#define PATH "/hooks/fluxori"

struct whreceiver {
	struct httpserve *server;
	char url[64];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;

	char secrets[WHRECEIVER_MAX_SECRETS][SECRET_MAX];
	size_t nsecrets;
	int fail_n, fail_status;
	long delay_ms;
	unsigned delay_gen; /* bumped by whreceiver_delay: wakes the waiting answers */
	int delayed; /* requests waiting in a delay now */
	char location[512]; /* "" when not redirecting */
	size_t pad; /* 2xx answers' body length (0: the short one) */

	struct whreceiver_delivery *rec;
	size_t nrec, caprec;
	size_t accepted;
	unsigned clear_gen; /* bumped by whreceiver_clear: an answer still waiting records nothing */
};

/* ---- the verification docs/webhooks.md describes ---- */

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool fail_why(const char **why, const char *rule)
{
	if (why)
		*why = rule;
	return false;
}

/* Lower-case hex HMAC-SHA256(key, "<t>.<body>") into out (65 bytes); false when OpenSSL fails. */
static bool expected_v1(const char *key, const char *t, size_t tlen, const char *body, size_t body_len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t mlen = tlen + 1 + body_len;
	unsigned char *msg = malloc(mlen ? mlen : 1);
	bool ok;

	if (!msg)
		return false;
	memcpy(msg, t, tlen);
	msg[tlen] = '.';
	if (body_len)
		memcpy(msg + tlen + 1, body, body_len);
	ok = HMAC(EVP_sha256(), key, (int)strlen(key), msg, mlen, mac, &maclen) != NULL && maclen == 32;
	free(msg);
	if (!ok)
		return false;
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	return true;
}

bool whreceiver_verify(const char *header, const char *body, size_t body_len, const char *const *secrets,
		       size_t nsecrets, long long now, const char **why)
{
	const char *t = NULL, *v1[MAX_V1];
	size_t tlen = 0, v1len[MAX_V1], nv1 = 0;
	long long ts;
	bool match = false;

	if (!header || !*header)
		return fail_why(why, "no signature");
	/* Split on ',' into key=value entries: one t, any number of v1, others ignored. */
	for (const char *p = header;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		size_t klen, vlen;
		if (!eq)
			return fail_why(why, "malformed");
		klen = (size_t)(eq - p);
		vlen = n - klen - 1;
		if (klen == 1 && p[0] == 't') {
			if (t)
				return fail_why(why, "malformed");
			t = eq + 1;
			tlen = vlen;
		} else if (klen == 2 && memcmp(p, "v1", 2) == 0) {
			if (nv1 == MAX_V1)
				return fail_why(why, "malformed");
			v1[nv1] = eq + 1;
			v1len[nv1++] = vlen;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!t)
		return fail_why(why, "no timestamp");
	if (!all_digits(t, tlen) || tlen > 12)
		return fail_why(why, "malformed");
	ts = strtoll(t, NULL, 10);
	if (now - ts > WHRECEIVER_TOLERANCE_S)
		return fail_why(why, "too old");
	if (ts - now > WHRECEIVER_TOLERANCE_S)
		return fail_why(why, "too new");
	if (nv1 == 0)
		return fail_why(why, "no v1");
	for (size_t s = 0; s < nsecrets; s++) {
		char want[65];
		if (!expected_v1(secrets[s], t, tlen, body, body_len, want))
			return fail_why(why, "no match");
		/* Every entry is compared, matched or not: the time taken does not say which one matched. */
		for (size_t i = 0; i < nv1; i++)
			if (v1len[i] == 64 && CRYPTO_memcmp(want, v1[i], 64) == 0)
				match = true;
	}
	return match ? true : fail_why(why, "no match");
}

/* ---- the server ---- */

/* Records r (with mu held); its index, or (size_t)-1 past MAX_RECORDS. */
static size_t record(struct whreceiver *w, const struct httpserve_req *r)
{
	struct whreceiver_delivery *d;
	const char *secrets[WHRECEIVER_MAX_SECRETS];

	if (w->nrec == MAX_RECORDS)
		return (size_t)-1;
	if (w->nrec == w->caprec) {
		size_t cap = w->caprec ? w->caprec * 2 : 64;
		struct whreceiver_delivery *n = realloc(w->rec, cap * sizeof *n);
		if (!n)
			abort();
		w->rec = n;
		w->caprec = cap;
	}
	d = &w->rec[w->nrec];
	memset(d, 0, sizeof *d);
	snprintf(d->method, sizeof d->method, "%s", r->method);
	snprintf(d->path, sizeof d->path, "%.*s", (int)sizeof d->path - 1, r->path); /* kept short, as before */
	if (!httpserve_header(r, "X-Fluxori-Delivery", d->delivery, sizeof d->delivery))
		d->delivery[0] = '\0';
	if (!httpserve_header(r, "X-Fluxori-Event", d->event, sizeof d->event))
		d->event[0] = '\0';
	if (!httpserve_header(r, "X-Fluxori-Signature", d->signature, sizeof d->signature))
		d->signature[0] = '\0';
	d->body = malloc(r->body_len + 1);
	if (!d->body)
		abort();
	memcpy(d->body, r->body, r->body_len);
	d->body[r->body_len] = '\0';
	d->body_len = r->body_len;
	for (size_t i = 0; i < w->nsecrets; i++)
		secrets[i] = w->secrets[i];
	d->valid = whreceiver_verify(d->signature, d->body, d->body_len, secrets, w->nsecrets, (long long)time(NULL),
				     &d->why);
	if (d->valid)
		d->why = NULL;
	d->at_ms = fx_clock_ms();
	pthread_cond_broadcast(&w->cv);
	return w->nrec++;
}

/* Whether the sender closed its end (it gave up waiting): a read would see the end of the stream. */
static bool sender_gone(int fd)
{
	char b;
	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/*
 * Decides the answer (with mu held; may wait in a delay): the status,
 * Location into loc when 302; 0 when stopping or when the sender gave up
 * during the delay (recorded as status 0: nothing was answered).
 */
static int decide(struct whreceiver *w, int fd, size_t idx, char *loc, size_t loc_len)
{
	int status;
	bool valid = idx != (size_t)-1 && w->rec[idx].valid;
	unsigned gen0 = w->clear_gen;

	if (w->delay_ms > 0) {
		struct timespec until;
		unsigned gen = w->delay_gen;
		fx_clock_deadline(w->delay_ms, &until);
		w->delayed++;
		pthread_cond_broadcast(&w->cv);
		while (!w->stopping && gen == w->delay_gen)
			if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
				break;
		w->delayed--;
		pthread_cond_broadcast(&w->cv);
	}
	if (w->stopping || sender_gone(fd))
		return 0;
	if (w->location[0]) {
		snprintf(loc, loc_len, "%s", w->location);
		status = 302;
	} else if (w->fail_n != 0) {
		if (w->fail_n > 0)
			w->fail_n--;
		status = w->fail_status;
	} else {
		status = valid ? 200 : 400;
	}
	if (idx != (size_t)-1 && gen0 == w->clear_gen) {
		w->rec[idx].status = status;
		if (valid && status >= 200 && status < 300)
			w->accepted++;
	}
	pthread_cond_broadcast(&w->cv);
	return status;
}

/* A request (httpserve's handler, on its connection's thread): recorded, then answered as decided. */
static void handle(void *ctx, struct httpserve_req *r)
{
	struct whreceiver *w = ctx;
	char loc[512] = "", extra[600] = "";
	char *padded = NULL;
	size_t idx, pad;
	int status;

	pthread_mutex_lock(&w->mu);
	idx = record(w, r);
	status = decide(w, r->fd, idx, loc, sizeof loc);
	pad = w->pad;
	pthread_mutex_unlock(&w->mu);
	if (status == 0)
		return; /* stopped, or the sender left, while waiting: nothing is answered */
	if (loc[0])
		snprintf(extra, sizeof extra, "Location: %s\r\n", loc);
	if (status >= 200 && status < 300 && pad > 0) {
		/* {"received":true,"pad":"xxx...x"}: pad bytes in all */
		static const char head[] = "{\"received\":true,\"pad\":\"";
		padded = malloc(pad + 1);
		if (!padded)
			abort();
		memset(padded, 'x', pad);
		memcpy(padded, head, sizeof head - 1);
		memcpy(padded + pad - 2, "\"}", 2);
		padded[pad] = '\0';
	}
	/* The sender may have given up. */
	(void)httpserve_answer(r->fd, status, extra,
			       padded			       ? padded
			       : status >= 200 && status < 300 ? "{\"received\":true}"
							       : "{\"received\":false}");
	free(padded);
}

struct whreceiver *whreceiver_start(void)
{
	struct whreceiver *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->fail_status = 500;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->server = httpserve_start(handle, w, MAX_REQUEST, 256);
	if (!w->server) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	snprintf(w->url, sizeof w->url, "http://127.0.0.1:%d" PATH, httpserve_port(w->server));
	return w;
}

void whreceiver_stop(struct whreceiver *w)
{
	if (!w)
		return;
	/* Answers waiting in a delay end first, unanswered; then the server waits for their threads. */
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	httpserve_stop(w->server);
	for (size_t i = 0; i < w->nrec; i++)
		free(w->rec[i].body);
	free(w->rec);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

const char *whreceiver_url(const struct whreceiver *w)
{
	return w->url;
}

void whreceiver_set_secrets(struct whreceiver *w, const char *const *secrets, size_t n)
{
	pthread_mutex_lock(&w->mu);
	w->nsecrets = 0;
	for (size_t i = 0; i < n && i < WHRECEIVER_MAX_SECRETS; i++)
		if (strlen(secrets[i]) < SECRET_MAX)
			snprintf(w->secrets[w->nsecrets++], SECRET_MAX, "%s", secrets[i]);
	pthread_mutex_unlock(&w->mu);
}

void whreceiver_fail(struct whreceiver *w, int n, int status)
{
	pthread_mutex_lock(&w->mu);
	w->fail_n = n;
	w->fail_status = status;
	pthread_mutex_unlock(&w->mu);
}

void whreceiver_delay(struct whreceiver *w, long ms)
{
	pthread_mutex_lock(&w->mu);
	w->delay_ms = ms > 0 ? ms : 0;
	w->delay_gen++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

bool whreceiver_wait_delayed(struct whreceiver *w, int n, long deadline_ms)
{
	struct timespec until;
	bool ok;

	fx_clock_deadline(deadline_ms, &until);
	pthread_mutex_lock(&w->mu);
	while (w->delayed < n)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
			break;
	ok = w->delayed >= n;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

void whreceiver_redirect(struct whreceiver *w, const char *location)
{
	pthread_mutex_lock(&w->mu);
	if (!location || strlen(location) >= sizeof w->location)
		w->location[0] = '\0';
	else
		snprintf(w->location, sizeof w->location, "%s", location);
	pthread_mutex_unlock(&w->mu);
}

void whreceiver_pad(struct whreceiver *w, size_t bytes)
{
	pthread_mutex_lock(&w->mu);
	w->pad = bytes >= 64 ? bytes : 0;
	pthread_mutex_unlock(&w->mu);
}

size_t whreceiver_count(struct whreceiver *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->nrec;
	pthread_mutex_unlock(&w->mu);
	return n;
}

size_t whreceiver_accepted(struct whreceiver *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->accepted;
	pthread_mutex_unlock(&w->mu);
	return n;
}

size_t whreceiver_accepted_id(struct whreceiver *w, const char *id)
{
	size_t n = 0;

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->nrec; i++) {
		const struct whreceiver_delivery *d = &w->rec[i];
		if (d->valid && d->status >= 200 && d->status < 300 && strcmp(d->delivery, id) == 0)
			n++;
	}
	pthread_mutex_unlock(&w->mu);
	return n;
}

static bool wait_for(struct whreceiver *w, const size_t *counter, size_t n, long deadline_ms)
{
	struct timespec until;
	bool ok;

	fx_clock_deadline(deadline_ms, &until);
	pthread_mutex_lock(&w->mu);
	while (*counter < n)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
			break;
	ok = *counter >= n;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

bool whreceiver_wait_accepted(struct whreceiver *w, size_t n, long deadline_ms)
{
	return wait_for(w, &w->accepted, n, deadline_ms);
}

bool whreceiver_wait_count(struct whreceiver *w, size_t n, long deadline_ms)
{
	return wait_for(w, &w->nrec, n, deadline_ms);
}

bool whreceiver_get(struct whreceiver *w, size_t i, struct whreceiver_delivery *out)
{
	bool ok;

	pthread_mutex_lock(&w->mu);
	ok = i < w->nrec;
	if (ok) {
		*out = w->rec[i];
		out->body = malloc(out->body_len + 1);
		if (!out->body)
			abort();
		memcpy(out->body, w->rec[i].body, out->body_len + 1);
	}
	pthread_mutex_unlock(&w->mu);
	return ok;
}

void whreceiver_delivery_free(struct whreceiver_delivery *d)
{
	if (!d)
		return;
	free(d->body);
	d->body = NULL;
}

void whreceiver_clear(struct whreceiver *w)
{
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->nrec; i++)
		free(w->rec[i].body);
	w->nrec = 0;
	w->accepted = 0;
	w->clear_gen++;
	pthread_mutex_unlock(&w->mu);
}
