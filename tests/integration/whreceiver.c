/*
 * whreceiver: a merchant's webhook endpoint for tests (see whreceiver.h).
 * The signature check uses OpenSSL directly, not lib/sig, so that it stays
 * an independent reading of docs/webhooks.md rather than the sender's own
 * code checking itself.
 */
#include "whreceiver.h"

#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST (4u << 20)
#define MAX_RECORDS 262144u
#define MAX_V1 8
#define SECRET_MAX 256
#define PATH "/hooks/fluxori"

struct whreceiver {
	int fd;
	pthread_t accept_thread;
	char url[64];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	int active; /* connection threads running */

	char secrets[WHRECEIVER_MAX_SECRETS][SECRET_MAX];
	size_t nsecrets;
	int fail_n, fail_status;
	long delay_ms;
	unsigned delay_gen; /* bumped by whreceiver_delay: wakes the waiting answers */
	int delayed; /* requests waiting in a delay now */
	char location[512]; /* "" when not redirecting */

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

struct req {
	char method[16];
	char path[256];
	const char *headers; /* raw lines after the request line */
	char *body;
	size_t body_len;
};

static const char *req_header(const struct req *r, const char *name, char *out, size_t out_len)
{
	size_t nlen = strlen(name);

	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t llen = eol ? (size_t)(eol - p) : strlen(p);
		if (llen > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1;
			size_t vlen;
			while (*v == ' ')
				v++;
			vlen = (size_t)(p + llen - v);
			if (vlen >= out_len)
				return NULL;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return out;
		}
		if (!eol)
			break;
		p = eol + 2;
	}
	return NULL;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 410: return "Gone";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return "Status";
}

/* Records r (with mu held); its index, or (size_t)-1 past MAX_RECORDS. */
static size_t record(struct whreceiver *w, const struct req *r)
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
	snprintf(d->path, sizeof d->path, "%s", r->path);
	if (!req_header(r, "X-Fluxori-Delivery", d->delivery, sizeof d->delivery))
		d->delivery[0] = '\0';
	if (!req_header(r, "X-Fluxori-Event", d->event, sizeof d->event))
		d->event[0] = '\0';
	if (!req_header(r, "X-Fluxori-Signature", d->signature, sizeof d->signature))
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

struct conn {
	struct whreceiver *w;
	int fd;
};

static void *serve(void *arg)
{
	struct conn *c = arg;
	struct whreceiver *w = c->w;
	size_t cap = 65536, len = 0, need = 0;
	char *buf = malloc(cap + 1);
	char *hend = NULL;
	struct req r;
	char cl[32], loc[512] = "", head[1024];
	int status;
	size_t idx;

	if (!buf)
		abort();
	memset(&r, 0, sizeof r);
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 30000) <= 0)
			goto out;
		n = recv(c->fd, buf + len, cap - len, 0);
		if (n <= 0)
			goto out;
		len += (size_t)n;
		buf[len] = '\0';
		if (!hend && (hend = strstr(buf, "\r\n\r\n"))) {
			*hend = '\0';
			r.headers = strstr(buf, "\r\n") ? strstr(buf, "\r\n") + 2 : hend;
			need = (size_t)(hend + 4 - buf);
			if (req_header(&r, "Content-Length", cl, sizeof cl))
				need += strtoul(cl, NULL, 10);
			if (need > MAX_REQUEST)
				goto out;
			if (need > cap) {
				size_t off = (size_t)(hend - buf);
				char *nb = realloc(buf, need + 1);
				if (!nb)
					abort();
				buf = nb;
				cap = need;
				hend = buf + off;
				r.headers = strstr(buf, "\r\n") + 2;
			}
		}
		if (hend && len >= need)
			break;
		if (len == cap)
			goto out;
	}
	if (sscanf(buf, "%15s %255s", r.method, r.path) != 2)
		goto out;
	r.body = hend + 4;
	r.body_len = need - (size_t)(hend + 4 - buf);
	r.body[r.body_len] = '\0';

	pthread_mutex_lock(&w->mu);
	idx = record(w, &r);
	status = decide(w, c->fd, idx, loc, sizeof loc);
	pthread_mutex_unlock(&w->mu);
	if (status == 0)
		goto out; /* stopped, or the sender left, while waiting: nothing is answered */
	{
		const char *body = status >= 200 && status < 300 ? "{\"received\":true}" : "{\"received\":false}";
		int n = snprintf(head, sizeof head,
				 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n%s%s%s\r\n",
				 status, reason(status), strlen(body), loc[0] ? "Location: " : "", loc,
				 loc[0] ? "\r\n" : "");
		if (n > 0 && (size_t)n < sizeof head && write_all(c->fd, head, (size_t)n))
			(void)write_all(c->fd, body, strlen(body)); /* the sender may have given up */
	}
out:
	free(buf);
	close(c->fd);
	pthread_mutex_lock(&w->mu);
	w->active--;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	free(c);
	return NULL;
}

static void *accept_loop(void *arg)
{
	struct whreceiver *w = arg;

	for (;;) {
		int fd = accept(w->fd, NULL, NULL);
		struct conn *c;
		pthread_t t;
		pthread_attr_t at;

		pthread_mutex_lock(&w->mu);
		if (w->stopping) {
			pthread_mutex_unlock(&w->mu);
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		if (fd < 0) {
			pthread_mutex_unlock(&w->mu);
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		w->active++;
		pthread_mutex_unlock(&w->mu);
		c = malloc(sizeof *c);
		if (!c)
			abort();
		c->w = w;
		c->fd = fd;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, serve, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&w->mu);
			w->active--;
			pthread_cond_broadcast(&w->cv);
			pthread_mutex_unlock(&w->mu);
		}
		pthread_attr_destroy(&at);
	}
}

struct whreceiver *whreceiver_start(void)
{
	struct whreceiver *w = calloc(1, sizeof *w);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;

	if (!w)
		return NULL;
	w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(w->fd, 256) < 0 ||
	    getsockname(w->fd, (struct sockaddr *)&sa, &sl) < 0) {
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return NULL;
	}
	snprintf(w->url, sizeof w->url, "http://127.0.0.1:%d" PATH, ntohs(sa.sin_port));
	w->fail_status = 500;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->accept_thread, NULL, accept_loop, w) != 0) {
		close(w->fd);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

void whreceiver_stop(struct whreceiver *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	shutdown(w->fd, SHUT_RDWR);
	pthread_join(w->accept_thread, NULL);
	close(w->fd);
	pthread_mutex_lock(&w->mu);
	while (w->active > 0)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
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
