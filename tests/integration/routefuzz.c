/*
 * The route fuzzer (see routefuzz.h and docs/fuzzing.md). Layout: helpers,
 * HTTP, callers (principals) and their organizations, the route tables from
 * the binaries, id pools and what answers teach, generators, the checks and
 * the monitor, one route's stages, the scheduler.
 */
#include "routefuzz.h"

#include "client.h"
#include "fakegcs.h"
#include "instance.h"
#include "json.h"
#include "str.h"

#include <curl/curl.h>
#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES 128
#define POOL_MAX 96
#define SWEEP_IDS 12 /* pool ids each {param} is tried with, newest first */
#define MAX_BODY_SENT (2u * 1024 * 1024)

/* ---- helpers ---- */

struct sb {
	char *p;
	size_t n, cap;
};

static void sb_add(struct sb *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < (int)sizeof(small)) {
		sb_add(b, small, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);

		if (!big)
			abort();
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sb_add(b, big, (size_t)n);
		free(big);
	}
}

/* The text built so far (never NULL); b is empty afterwards. */
static char *sb_take(struct sb *b)
{
	char *p = b->p ? b->p : strdup("");

	if (!p)
		abort();
	memset(b, 0, sizeof(*b));
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		abort();
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		abort();
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: small, fast, and the same sequence everywhere for a seed. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rng_below(struct rng *r, unsigned n)
{
	return n ? (unsigned)(rng_next(r) % n) : 0;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	h ^= 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static const char *const glyph[5] = {"", "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};

static long utf8_chars(const char *s)
{
	long n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/*
 * prefix, then characters w bytes wide until the value has count characters
 * (by_bytes false) or count bytes (the rest ASCII when w does not divide).
 * A prefix already too long is left out.
 */
static char *pad_string(const char *prefix, int w, long count, bool by_bytes)
{
	struct sb b = {0};
	long have;

	if (count < 0)
		count = 0;
	have = by_bytes ? (long)strlen(prefix) : utf8_chars(prefix);
	if (have <= count) {
		sb_puts(&b, prefix);
	} else {
		have = 0;
	}
	if (by_bytes) {
		while (have + w <= count) {
			sb_puts(&b, glyph[w]);
			have += w;
		}
		while (have < count) {
			sb_puts(&b, "a");
			have++;
		}
	} else {
		for (; have < count; have++)
			sb_puts(&b, glyph[w]);
	}
	return sb_take(&b);
}

/* Percent-encodes every byte outside RFC 3986's unreserved set. */
static char *pct(const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	struct sb b = {0};

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			sb_add(&b, &s[i], 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			sb_add(&b, e, 3);
		}
	}
	return sb_take(&b);
}

/* ---- HTTP ---- */

struct req {
	const char *method;
	char *target; /* path and query as sent */
	int who; /* principal */
	char *ctype; /* Content-Type or NULL */
	char *body;
	size_t len;
	bool has_body;
	char *hdr[8]; /* extra "Name: value" lines */
	int nh;
	bool own_auth; /* an hdr line is the Authorization */
	char desc[700];
};

struct resp {
	long status;
	int curl_rc;
	char curl_err[CURL_ERROR_SIZE];
	char *body;
	size_t len;
	char *headers;
	json_object *json;
};

static void req_free(struct req *q)
{
	free(q->target);
	free(q->ctype);
	free(q->body);
	for (int i = 0; i < q->nh; i++)
		free(q->hdr[i]);
	memset(q, 0, sizeof(*q));
}

static void resp_free(struct resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->headers);
	json_object_put(r->json);
	free(r);
}

static void req_header(struct req *q, const char *line)
{
	if (q->nh < 8)
		q->hdr[q->nh++] = xstrdup(line);
	if (strncasecmp(line, "Authorization:", 14) == 0)
		q->own_auth = true;
}

static void req_body(struct req *q, const char *ctype, const char *p, size_t n)
{
	char *t = ctype ? xstrdup(ctype) : NULL, *b = malloc(n + 1);

	if (!b)
		abort();
	memcpy(b, p, n);
	b[n] = '\0';
	free(q->ctype);
	free(q->body);
	q->ctype = t;
	q->body = b;
	q->len = n;
	q->has_body = true;
}

static size_t sink(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sb *b = ctx;

	sb_add(b, p, size * nmemb);
	return size * nmemb;
}

/* One request to an absolute URL with exactly these header lines. Never NULL. */
static struct resp *send_raw(const char *method, const char *url, char *const *headers, int nh, const char *body,
			     size_t len, bool has_body)
{
	struct resp *r = xcalloc(1, sizeof(*r));
	struct sb b = {0}, h = {0};
	struct curl_slist *list = NULL;
	CURL *c = curl_easy_init();

	if (!c)
		abort();
	for (int i = 0; i < nh; i++)
		list = curl_slist_append(list, headers[i]);
	list = curl_slist_append(list, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* dot segments go out as generated */
	if (has_body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	r->curl_rc = (int)curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->curl_rc != CURLE_OK)
		r->status = 0;
	curl_easy_cleanup(c);
	curl_slist_free_all(list);
	r->len = b.n;
	r->body = sb_take(&b);
	r->headers = sb_take(&h);
	if (r->len) {
		json_tokener *tok = json_tokener_new();

		r->json = json_tokener_parse_ex(tok, r->body, (int)r->len);
		if (r->json && (size_t)tok->char_offset != r->len) {
			json_object_put(r->json);
			r->json = NULL;
		}
		json_tokener_free(tok);
	}
	return r;
}

/* The last value of header name in r (case-insensitive), into out; NULL when absent. */
static const char *resp_header(const struct resp *r, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *p = r->headers, *found = NULL;

	while (p && *p) {
		const char *eol = strstr(p, "\r\n");

		if (!eol)
			break;
		if (strncmp(p, "HTTP/", 5) == 0)
			found = NULL; /* a new header block (100 Continue) */
		if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(eol - v), v);
			found = out;
		}
		p = eol + 2;
	}
	return found;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* ---- callers and their organizations ---- */

enum { P_OWNER, P_ADMIN, P_MANAGER, P_STAFF, P_VIEWER, P_NOORG, P_NOTOKEN, P_OTHER, NP };
static const char *const pname[NP] = {"owner",	"admin",	   "manager",  "staff",
				      "viewer", "no-organization", "no-token", "other-organization-owner"};
static const char *const prole[NP] = {"owner", "admin", "manager", "staff", "viewer", NULL, NULL, "owner"};

struct principal {
	struct test_user u;
	int org; /* 0: A, 1: B, -1: none */
};

/* ---- the run's shared state ---- */

struct route {
	char method[12], pattern[192], group[40], access[16], min_role[16], body[8];
	long max_body;
	int phase;
	char harvest[48]; /* pool its answers' ids go to */
	pthread_mutex_t mu; /* held while a thread works on the route */
	struct {
		char name[64];
		int state; /* 0 untried, 1 known, 2 unknown */
	} q[48];
	int nq;
	struct {
		char field[96];
		long n[6];
		int nn;
	} lim[64];
	int nlim;
	json_object *learned; /* required fields learned from 400s (no dictionary seed) */
	long sent;
	long found;
};

struct pool_entry {
	char *id;
	char *made_by; /* the request that made it, for findings on it; may be NULL */
	int creator; /* route index of the generated request that made it; -1: a seed request */
};

struct pool {
	char name[48];
	struct pool_entry e[2][POOL_MAX]; /* per organization, oldest first */
	int n[2];
};

struct finding_kind {
	char key[256];
	long count;
};

/* A stack the requests go to: the harness's, or the production-storage instance. */
struct target {
	char name[64];
	char base[128];
	char state_dir[512], logs[2][512]; /* nginx's error log, the workers' stderr (may be one file) */
	long restarts, log_off[2];
};

static struct {
	const struct rf_options *o;
	struct target tg[2];
	int ntg;
	struct target *cur;
	struct route routes[MAX_ROUTES];
	int nroutes;
	struct principal p[NP];
	char org_id[2][64];
	pthread_mutex_t ids_mu; /* principals, organizations, pools */
	struct pool pools[64];
	int npools;
	atomic_long requests;
	atomic_long findings;
	pthread_mutex_t out_mu; /* findings output */
	struct finding_kind kinds[512];
	int nkinds;
	FILE *log;
	FILE *trace; /* every request, with FLUXORI_ROUTEFUZZ_TRACE=1 */
	/* monitor */
	pthread_mutex_t mon_mu;
	pthread_rwlock_t excl; /* requests hold it shared; a request sent again alone, exclusive */
	atomic_int replaying; /* requests waiting to be sent again alone, or being sent */
	char asan_dir[512], asan_prefix[128];
	struct sb pending; /* events nobody claimed yet */
	double pending_at;
	struct {
		char name[256];
		long size;
	} seen[1024];
	int nseen;
	/* what each client thread is sending, for attribution */
	char inflight[16][420];
	double deadline;
	atomic_int stop;
	long unique;
} G;

static long unique_next(void)
{
	static atomic_long n;

	return atomic_fetch_add(&n, 1) + 1;
}

static struct pool *pool_find(const char *name, bool create)
{
	for (int i = 0; i < G.npools; i++)
		if (strcmp(G.pools[i].name, name) == 0)
			return &G.pools[i];
	if (!create || G.npools == (int)(sizeof(G.pools) / sizeof(G.pools[0])))
		return NULL;
	snprintf(G.pools[G.npools].name, sizeof(G.pools[0].name), "%s", name);
	return &G.pools[G.npools++];
}

static bool is_principal_uid(const char *id)
{
	for (int i = 0; i < NP; i++)
		if (G.p[i].u.uid[0] && strcmp(G.p[i].u.uid, id) == 0)
			return true;
	return false;
}

/*
 * Adds id to pool name of org. creator is the route whose generated request
 * made it, or -1 for seed requests: the ids generated requests made are
 * swept first (see pool_get).
 */
static void pool_add(const char *name, int org, const char *id, int creator, const char *made_by)
{
	struct pool *p;

	if (org < 0 || org > 1 || !id || !*id || strlen(id) > 200)
		return;
	pthread_mutex_lock(&G.ids_mu);
	p = pool_find(name, true);
	if (p && !(strcmp(name, "users") == 0 && is_principal_uid(id))) {
		struct pool_entry *e = p->e[org];
		int *n = &p->n[org], i;

		for (i = 0; i < *n; i++)
			if (strcmp(e[i].id, id) == 0)
				break;
		if (i == *n) {
			if (*n == POOL_MAX) { /* the oldest plain one goes, else the oldest */
				int drop = 0;

				for (int k = 0; k < *n; k++)
					if (e[k].creator < 0) {
						drop = k;
						break;
					}
				free(e[drop].id);
				free(e[drop].made_by);
				memmove(&e[drop], &e[drop + 1], (size_t)(*n - drop - 1) * sizeof(*e));
				(*n)--;
			}
			e[*n].id = xstrdup(id);
			e[*n].made_by = made_by ? xstrdup(made_by) : NULL;
			e[*n].creator = creator;
			(*n)++;
		}
	}
	pthread_mutex_unlock(&G.ids_mu);
}

static bool pool_get_by(const char *name, int org, int k, bool plain_first, char *out, size_t len, char *by,
			size_t by_len);

/* At the start of a pass the ids earlier passes generated become plain ones. */
static void pool_age(void)
{
	pthread_mutex_lock(&G.ids_mu);
	for (int i = 0; i < G.npools; i++)
		for (int org = 0; org < 2; org++)
			for (int k = 0; k < G.pools[i].n[org]; k++)
				G.pools[i].e[org][k].creator = -1;
	pthread_mutex_unlock(&G.ids_mu);
}

/*
 * The k-th id of pool name for org, copied into out; false when there is
 * none. Unless plain_first (what seed requests want): first the ids this
 * pass's generated requests made, taking each creating route's oldest in
 * turn (so the first, structured cases of every route come early), then
 * plain ids newest first.
 */
static bool pool_get(const char *name, int org, int k, bool plain_first, char *out, size_t len)
{
	return pool_get_by(name, org, k, plain_first, out, len, NULL, 0);
}

static bool pool_get_by(const char *name, int org, int k, bool plain_first, char *out, size_t len, char *by,
			size_t by_len)
{
	struct pool *p;
	const char *found = NULL, *found_by = NULL;

	pthread_mutex_lock(&G.ids_mu);
	p = pool_find(name, false);
	if (p && org >= 0 && org <= 1 && k >= 0) {
		struct pool_entry *e = p->e[org];
		int n = p->n[org], nplain = 0, nfuzzed;

		for (int i = 0; i < n; i++)
			nplain += e[i].creator < 0;
		nfuzzed = n - nplain;
		if (!plain_first && k < nfuzzed) {
			/* Round-robin over creators, each creator's ids oldest first. */
			int used[POOL_MAX] = {0}, taken = 0;

			while (!found) {
				int done[MAX_ROUTES] = {0};

				for (int i = 0; i < n && !found; i++) {
					if (e[i].creator < 0 || used[i] || done[e[i].creator % MAX_ROUTES])
						continue;
					done[e[i].creator % MAX_ROUTES] = 1;
					used[i] = 1;
					if (taken++ == k) {
						found = e[i].id;
						found_by = e[i].made_by;
					}
				}
			}
		} else {
			int want = plain_first ? k : k - nfuzzed;

			for (int i = n - 1; i >= 0 && !found; i--)
				if (e[i].creator < 0 && want-- == 0)
					found = e[i].id;
			if (!found && plain_first)
				for (int i = 0, want2 = k - nplain; i < n && !found; i++)
					if (e[i].creator >= 0 && want2-- == 0)
						found = e[i].id;
		}
		if (found)
			snprintf(out, len, "%s", found);
		if (by && by_len)
			snprintf(by, by_len, "%s", found_by ? found_by : "");
	}
	pthread_mutex_unlock(&G.ids_mu);
	return found != NULL;
}

static int pool_size(const char *name, int org)
{
	struct pool *p;
	int n = 0;

	pthread_mutex_lock(&G.ids_mu);
	p = pool_find(name, false);
	if (p && org >= 0 && org <= 1)
		n = p->n[org];
	pthread_mutex_unlock(&G.ids_mu);
	return n;
}

/* The pool a path parameter draws from: {id}/{name} the literal before it, {fileId} "files". */
static void param_pool(const char *pattern, const char *param_start, char *out, size_t len)
{
	const char *end = strchr(param_start, '}');
	size_t n = end ? (size_t)(end - param_start - 1) : 0;

	if (n > 2 && strncmp(param_start + 1 + n - 2, "Id", 2) == 0) {
		snprintf(out, len, "%.*ss", (int)(n - 2), param_start + 1);
		return;
	}
	{
		const char *seg_end = param_start - 1, *seg = seg_end;

		while (seg > pattern && seg[-1] != '/')
			seg--;
		snprintf(out, len, "%.*s", (int)(seg_end - seg), seg);
	}
}

/* ---- route tables from the binaries ---- */

static int phase_of(const char *method, const char *pattern)
{
	bool param = strchr(pattern, '{') != NULL;

	if (strcmp(method, "POST") == 0)
		return param ? 1 : 0;
	if (strcmp(method, "DELETE") == 0)
		return 3;
	return 2;
}

static void harvest_name(const char *pattern, char *out, size_t len)
{
	const char *last = pattern, *p;
	size_t n;

	for (p = pattern; *p; p++)
		if (*p == '/' && p[1] && p[1] != '{')
			last = p + 1;
	n = strcspn(last, ":/");
	snprintf(out, len, "%.*s", (int)n, last);
}

static int load_routes(const char *bin_dir)
{
	DIR *d = opendir(bin_dir);
	struct dirent *de;
	char *names[64];
	int nnames = 0;

	if (!d) {
		fprintf(stderr, "routefuzz: cannot open %s\n", bin_dir);
		return -1;
	}
	while ((de = readdir(d)) && nnames < 64) {
		char path[1024];

		if (strncmp(de->d_name, "fluxori-", 8) != 0 || strchr(de->d_name, '.'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", bin_dir, de->d_name);
		if (access(path, X_OK) == 0)
			names[nnames++] = xstrdup(de->d_name);
	}
	closedir(d);
	/* readdir's order is the file system's: sort, so a seed means the same everywhere. */
	for (int i = 1; i < nnames; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (int i = 0; i < nnames; i++) {
		char cmd[1200];
		struct sb out = {0};
		char buf[4096];
		size_t n;
		FILE *f;
		json_object *o, *list;
		int rc;

		snprintf(cmd, sizeof(cmd), "'%s/%s' --routes", bin_dir, names[i]);
		f = popen(cmd, "r");
		if (!f)
			return -1;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			sb_add(&out, buf, n);
		rc = pclose(f);
		o = out.p ? json_tokener_parse(out.p) : NULL;
		list = jget(o, "routes");
		if (rc != 0 || !list || !json_object_is_type(list, json_type_array)) {
			fprintf(stderr, "routefuzz: %s --routes gave no route table (exit %d): %.200s\n", names[i], rc,
				out.p ? out.p : "");
			free(out.p);
			json_object_put(o);
			return -1;
		}
		for (size_t k = 0; k < json_object_array_length(list) && G.nroutes < MAX_ROUTES; k++) {
			json_object *r = json_object_array_get_idx(list, k);
			struct route *rt = &G.routes[G.nroutes++];

			snprintf(rt->method, sizeof(rt->method), "%s", nz(jstr(r, "method")));
			snprintf(rt->pattern, sizeof(rt->pattern), "%s", nz(jstr(r, "pattern")));
			snprintf(rt->group, sizeof(rt->group), "%s", nz(jstr(o, "group")));
			snprintf(rt->access, sizeof(rt->access), "%s", nz(jstr(r, "access")));
			snprintf(rt->min_role, sizeof(rt->min_role), "%s", nz(jstr(r, "minRole")));
			snprintf(rt->body, sizeof(rt->body), "%s", nz(jstr(r, "body")));
			rt->max_body = (long)json_object_get_int64(jget(r, "maxBody"));
			rt->phase = phase_of(rt->method, rt->pattern);
			harvest_name(rt->pattern, rt->harvest, sizeof(rt->harvest));
			pthread_mutex_init(&rt->mu, NULL);
		}
		free(out.p);
		json_object_put(o);
		free(names[i]);
	}
	return G.nroutes > 0 ? 0 : -1;
}

/* ---- the contract's dictionary: valid-shaped bodies and names a client would know ---- */

/*
 * Seed bodies by "METHOD pattern" (from API.md). $pool is an id of that pool
 * of the caller's organization, $email, $sku and $num (a positive number:
 * a Takealot offer id) fresh values. A route
 * without one starts from {} and learns required fields from the answers.
 */
static const char *const seeds[][2] = {
	{"POST /v1/organizations",
	 "{\"name\":\"Fuzz Org\",\"legalName\":\"Fuzz (Pty) Ltd\",\"vatNumber\":\"4123456789\","
	 "\"address\":{\"line1\":\"1 Main Rd\",\"city\":\"Soweto\",\"province\":\"Gauteng\","
	 "\"postalCode\":\"1804\",\"country\":\"ZA\"}}"},
	{"PATCH /v1/organizations/{id}", "{\"name\":\"Fuzz Org\",\"legalName\":\"Fuzz (Pty) "
					 "Ltd\",\"timezone\":\"Africa/Johannesburg\",\"vatRateBps\":1500,"
					 "\"settings\":{\"lowStockDefault\":3},\"address\":{\"line1\":\"2 Long "
					 "St\",\"suburb\":\"Gardens\",\"city\":\"Cape "
					 "Town\",\"province\":\"Western Cape\",\"postalCode\":\"8001\"}}"},
	{"PATCH /v1/users/me", "{\"displayName\":\"Fuzz User\",\"preferences\":{\"theme\":\"dark\",\"pageSize\":50}}"},
	{"POST /v1/users", "{\"email\":\"$email\",\"role\":\"staff\",\"displayName\":\"Victim\"}"},
	{"PATCH /v1/users/{id}", "{\"role\":\"viewer\",\"displayName\":\"Victim Two\",\"disabled\":false}"},
	{"POST /v1/products",
	 "{\"sku\":\"$sku\",\"name\":\"Fuzz Widget\",\"description\":\"A widget\",\"category\":\"widgets\",\"brand\":"
	 "\"Acme\",\"priceCents\":14999,\"costCents\":9000,\"status\":\"active\",\"attributes\":{\"colour\":\"red\"},"
	 "\"stock\":{\"reorderPoint\":5}}"},
	{"PATCH /v1/products/{id}", "{\"name\":\"Fuzz Widget II\",\"priceCents\":15999,\"category\":\"gadgets\","
				    "\"stock\":{\"reorderPoint\":2}}"},
	{"POST /v1/products/{id}/stock:adjust", "{\"delta\":20,\"reason\":\"received\",\"note\":\"fuzz delivery\"}"},
	{"POST /v1/products/{id}/images", "{\"fileId\":\"$files\",\"position\":0}"},
	{"POST /v1/orders",
	 "{\"channel\":\"direct\",\"externalId\":\"EXT-1\",\"customer\":{\"name\":\"Thandi Mokoena\",\"email\":"
	 "\"thandi@example.co.za\",\"phone\":\"+27821234567\"},\"shippingAddress\":{\"line1\":\"1 Main "
	 "Rd\",\"city\":\"Soweto\",\"province\":\"Gauteng\",\"postalCode\":\"1804\"},\"items\":[{\"productId\":"
	 "\"$products\",\"quantity\":1}],\"shippingCents\":5000,\"notes\":\"leave at the gate\"}"},
	{"PATCH /v1/orders/{id}", "{\"notes\":\"ring twice\",\"customer\":{\"name\":\"Thandi M\"}}"},
	{"POST /v1/orders/{id}:ship", "{\"carrier\":\"The Courier Guy\",\"trackingNumber\":\"TCG123456\"}"},
	{"POST /v1/orders/{id}:cancel", "{\"reason\":\"customer asked\"}"},
	{"POST /v1/orders/{id}:return", "{\"restock\":true}"},
	{"PATCH /v1/insights/{id}", "{\"status\":\"acknowledged\"}"},
	{"POST /v1/files:signUpload",
	 "{\"name\":\"stock.csv\",\"contentType\":\"text/csv\",\"size\":16,\"kind\":\"upload\"}"},
	{"POST /v1/reports", "{\"type\":\"sales\",\"from\":\"2026-01-01\",\"to\":\"2026-12-31\"}"},
	{"POST /v1/channels", "{\"type\":\"takealot\",\"name\":\"Fuzz Takealot\",\"settings\":{\"bufferDefault\":1,"
			      "\"baseUrl\":\"http://127.0.0.1:9\"},\"credentials\":{\"apiKey\":\"fuzz-api-key-0001\"},"
			      "\"webhookSecret\":\"fuzz-hook-secret\"}"},
	{"PATCH /v1/channels/{id}", "{\"name\":\"Fuzz Channel\",\"status\":\"paused\"}"},
	{"POST /v1/channels/{id}/listings",
	 "{\"productId\":\"$products\",\"externalId\":\"$num\",\"buffer\":1,\"maxQuantity\":50}"},
};

/* Query parameter names of the contract, tried on every route (a route's own are learned from its answers). */
static const char *const qnames[] = {"pageSize", "pageToken", "status",	   "category", "q",	   "lowStock",
				     "orderBy",	 "kind",      "productId", "type",     "severity", "channel",
				     "from",	 "to",	      "barcode",   "format",   NULL};

/* Values a client would send for them; the first few of each are tried, the rest drawn at random. */
static const char *const qvalues[][6] = {
	{"pageSize", "1", "200", "201", "0", "-1"},
	{"status", "active", "open", "pending", "ready", "shipped"},
	{"lowStock", "true", "false", "TRUE", "1", ""},
	{"orderBy", "name", "sku", "createdAt", "available", "price"},
	{"kind", "upload", "document", "product_image", "report", "x"},
	{"type", "low_stock", "sales", "inventory", "orders", "top_seller"},
	{"severity", "info", "warning", "critical", "x", ""},
	{"channel", "direct", "takealot", "shopify", "amazon", "x"},
	{"from", "2026-01-01", "2026-01-01T00:00:00.000Z", "2026-13-40", "yesterday", ""},
	{"to", "2026-12-31", "2026-12-31T23:59:59.999Z", "0000-00-00", "9999-12-31", ""},
	{"barcode", "6001234567892", "6001234567890", "123", "", "x"},
	{"format", "csv", "json", "", "x", "CSV"},
};

/* The contract's values for path parameters that are names, not ids. */
static const char *const pvalues[][5] = {
	{"jobs", "inventory-check", "sync", "reports", "cleanup"},
};

/* File types of the contract's allowlist with magic bytes a :complete sniff accepts. */
static const char *const magic[][2] = {
	{"image/png", "\x89PNG\r\n\x1a\n"},
	{"image/jpeg", "\xff\xd8\xff\xe0"},
	{"image/webp", "RIFF\x08\0\0\0WEBP"},
	{"application/pdf", "%PDF-1.4\n"},
	{"text/csv", "sku,onHand\nA1,3\n"},
	{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "PK\x03\x04"},
};

static const char *seed_for(const struct route *rt)
{
	char key[220];

	snprintf(key, sizeof(key), "%s %s", rt->method, rt->pattern);
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (strcmp(seeds[i][0], key) == 0)
			return seeds[i][1];
	return NULL;
}

static int org_of(int who)
{
	return who >= 0 && who < NP ? G.p[who].org : -1;
}

/* The seed body with its placeholders filled for caller who; "{}" (or what was learned) without one. */
static char *seed_body(struct route *rt, int who)
{
	const char *s = seed_for(rt);
	struct sb b = {0};

	if (!s) {
		const char *t =
			rt->learned ? json_object_to_json_string_ext(rt->learned, JSON_C_TO_STRING_PLAIN) : "{}";

		return xstrdup(t);
	}
	while (*s) {
		if (*s == '$') {
			char name[48], id[256];
			size_t n = strspn(s + 1, "abcdefghijklmnopqrstuvwxyz");

			snprintf(name, sizeof(name), "%.*s", (int)n, s + 1);
			if (strcmp(name, "email") == 0) {
				sb_printf(&b, "fuzz-%d-%ld@example.co.za", (int)getpid(), unique_next());
			} else if (strcmp(name, "num") == 0) {
				sb_printf(&b, "%d%06ld", (int)getpid(), unique_next());
			} else if (strcmp(name, "sku") == 0) {
				sb_printf(&b, "FZ-%d-%ld", (int)getpid(), unique_next());
			} else if (pool_get(name, org_of(who) < 0 ? 0 : org_of(who), 0, true, id, sizeof(id))) {
				sb_puts(&b, id);
			} else {
				sb_puts(&b, "none");
			}
			s += 1 + n;
		} else {
			sb_add(&b, s, 1);
			s++;
		}
	}
	return sb_take(&b);
}

/* ---- what answers teach ---- */

static void learn_limit(struct route *rt, const char *field, long n)
{
	int i;

	if (n <= 0 || n > 10 * 1024 * 1024)
		return;
	for (i = 0; i < rt->nlim; i++)
		if (strcmp(rt->lim[i].field, field) == 0)
			break;
	if (i == rt->nlim) {
		if (rt->nlim == (int)(sizeof(rt->lim) / sizeof(rt->lim[0])))
			return;
		snprintf(rt->lim[rt->nlim].field, sizeof(rt->lim[0].field), "%s", field);
		rt->lim[rt->nlim++].nn = 0;
	}
	for (int k = 0; k < rt->lim[i].nn; k++)
		if (rt->lim[i].n[k] == n)
			return;
	if (rt->lim[i].nn < 6)
		rt->lim[i].n[rt->lim[i].nn++] = n;
}

/* The limits learned for field; n of them into out (at most max). */
static int limits_of(const struct route *rt, const char *field, long *out, int max)
{
	for (int i = 0; i < rt->nlim; i++)
		if (strcmp(rt->lim[i].field, field) == 0) {
			int n = rt->lim[i].nn < max ? rt->lim[i].nn : max;

			memcpy(out, rt->lim[i].n, (size_t)n * sizeof(long));
			return n;
		}
	return 0;
}

static void learn_field_type(struct route *rt, const char *field, const char *reason)
{
	json_object *v;

	if (seed_for(rt) || strchr(field, '.') || strchr(field, '[') || !*field)
		return;
	if (!rt->learned)
		rt->learned = json_object_new_object();
	if (strstr(reason, "integer") || strstr(reason, "number"))
		v = json_object_new_int(1);
	else if (strstr(reason, "boolean") || strstr(reason, "true or false"))
		v = json_object_new_boolean(1);
	else if (strstr(reason, "object"))
		v = json_object_new_object();
	else if (strstr(reason, "array") || strstr(reason, "list"))
		v = json_object_new_array();
	else if (strstr(reason, "is required") || strstr(reason, "string"))
		v = json_object_new_string("fuzz");
	else
		return;
	if (strstr(reason, "is required") && jget(rt->learned, field)) {
		json_object_put(v);
		return;
	}
	json_object_object_add(rt->learned, field, v);
}

static void learn(struct route *rt, const struct req *q, const struct resp *r)
{
	json_object *err = jget(r->json, "error"), *details = jget(err, "details");

	if (r->status != 400 || !details || !json_object_is_type(details, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(details); i++) {
		json_object *d = json_object_array_get_idx(details, i);
		const char *field = jstr(d, "field"), *reason = jstr(d, "reason");

		if (!field || !reason)
			continue;
		for (const char *p = reason; *p; p++)
			if (*p >= '0' && *p <= '9' && (p == reason || p[-1] < '0' || p[-1] > '9') &&
			    !(p - reason >= 4 && strncmp(p - 4, "RFC ", 4) == 0)) {
				char *end;
				long n = strtol(p, &end, 10);

				/* Not a limit: the numbers of a date or time given as an example. */
				if ((p == reason || !strchr("-:T.", p[-1])) && !(*end && strchr("-:T.", *end)))
					learn_limit(rt, field, n);
			}
		learn_field_type(rt, field, reason);
		/* A query parameter the route refuses as unknown. */
		if (strstr(reason, "unknown query parameter"))
			for (int k = 0; k < rt->nq; k++)
				if (strcmp(rt->q[k].name, field) == 0)
					rt->q[k].state = 2;
	}
	(void)q;
}

/* Ids (and etags) of a 2xx answer go to the pools of the caller's organization. */
static void harvest(const struct route *rt, int who, const struct resp *r, int fuzzed, const char *made_by)
{
	int org = org_of(who);
	json_object *data;
	char etag[200];

	if (org < 0 || !r->json || r->status < 200 || r->status > 299)
		return;
	if (jstr(r->json, "id"))
		pool_add(rt->harvest, org, jstr(r->json, "id"), fuzzed, made_by);
	if (jstr(r->json, "etag"))
		pool_add("etag", org, jstr(r->json, "etag"), fuzzed, made_by);
	if (resp_header(r, "ETag", etag, sizeof(etag)))
		pool_add("etag", org, etag, fuzzed, made_by);
	data = jget(r->json, "data");
	if (data && json_object_is_type(data, json_type_array))
		for (size_t i = 0; i < json_object_array_length(data) && i < 20; i++)
			if (jstr(json_object_array_get_idx(data, i), "id"))
				pool_add(rt->harvest, org, jstr(json_object_array_get_idx(data, i), "id"), -1, NULL);
	json_object_object_foreach(r->json, key, val)
	{
		if (json_object_is_type(val, json_type_object) && jstr(val, "id") && strlen(key) < 40) {
			char name[48];

			snprintf(name, sizeof(name), "%ss", key);
			pool_add(name, org, jstr(val, "id"), fuzzed, made_by);
		}
	}
}

/* ---- the checks ---- */

static bool canonical(long code, const char *status)
{
	static const struct {
		long code;
		const char *names[3];
	} t[] = {
		{400, {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"}},
		{401, {"UNAUTHENTICATED"}},
		{403, {"PERMISSION_DENIED"}},
		{404, {"NOT_FOUND"}},
		{405, {"UNIMPLEMENTED"}},
		{408, {"DEADLINE_EXCEEDED"}},
		{409, {"ALREADY_EXISTS", "ABORTED", "FAILED_PRECONDITION"}},
		{412, {"FAILED_PRECONDITION"}},
		{413, {"INVALID_ARGUMENT"}},
		{414, {"INVALID_ARGUMENT"}},
		{415, {"INVALID_ARGUMENT"}},
		{429, {"RESOURCE_EXHAUSTED"}},
		{431, {"INVALID_ARGUMENT"}},
		{503, {"UNAVAILABLE"}},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == code)
			for (int k = 0; k < 3 && t[i].names[k]; k++)
				if (strcmp(t[i].names[k], status) == 0)
					return true;
	return false;
}

/*
 * The names the contract gives fields, parameters and headers
 * (docs/openapi.yaml): every "name:" of a parameter and every key of a
 * "properties:" map, at any depth. An error's details[].field must be made
 * of these (or of a name the client sent, which an "unknown ..." reason
 * names back): a field the contract does not know (content_type where the
 * API says contentType) tells the client nothing it can fix.
 */
static struct {
	char names[1024][64];
	int n;
} contract;

static void contract_add(const char *name, size_t len)
{
	if (len == 0 || len >= sizeof(contract.names[0]) ||
	    contract.n >= (int)(sizeof(contract.names) / sizeof(contract.names[0])))
		return;
	for (int i = 0; i < contract.n; i++)
		if (strlen(contract.names[i]) == len && strncmp(contract.names[i], name, len) == 0)
			return;
	memcpy(contract.names[contract.n], name, len);
	contract.names[contract.n++][len] = '\0';
}

static int load_contract(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[1024];
	int props[64], nprops = 0; /* indentation of the open "properties:" maps */

	if (!f) {
		fprintf(stderr, "routefuzz: cannot read the contract %s (FLUXORI_SRCDIR/docs/openapi.yaml)\n",
			path ? path : "(FLUXORI_SRCDIR unset)");
		return -1;
	}
	/* A header the contract describes with its request bodies, not as a parameter. */
	contract_add("Content-Type", strlen("Content-Type"));
	while (fgets(line, sizeof(line), f)) {
		int ind = (int)strspn(line, " ");
		const char *p = line + ind;
		size_t k;

		if (*p == '\n' || *p == '\0' || *p == '#')
			continue;
		while (nprops > 0 && ind <= props[nprops - 1])
			nprops--;
		if (strncmp(p, "- ", 2) == 0 || strncmp(p, "name: ", 6) == 0) {
			const char *v = strncmp(p, "- ", 2) == 0 ? p + 2 : p;

			if (strncmp(v, "name: ", 6) == 0) {
				v += 6;
				k = strcspn(v, " \n#'\"");
				if (v[k] == '\n' || v[k] == '\0')
					contract_add(v, k);
			}
		}
		k = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
		if (nprops > 0 && ind == props[nprops - 1] + 2 && k > 0 && p[k] == ':')
			contract_add(p, k);
		if (strncmp(p, "properties:", 11) == 0 && nprops < 64)
			props[nprops++] = ind;
	}
	fclose(f);
	return contract.n > 1 ? 0 : -1;
}

static bool contract_has(const char *name, size_t len)
{
	for (int i = 0; i < contract.n; i++)
		if (strlen(contract.names[i]) == len && strncmp(contract.names[i], name, len) == 0)
			return true;
	return false;
}

/* How an error names a query parameter the client sent as raw (percent-encoded) up to its '=' or '&'. */
static void query_name_as_named(const char *raw, char *out, size_t size)
{
	char dec[256];
	size_t n = 0;

	for (const char *p = raw; *p && *p != '=' && *p != '&' && n + 1 < sizeof(dec); p++) {
		unsigned v;

		if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1 && p[1] && p[2]) {
			dec[n++] = (char)v;
			p += 2;
		} else {
			dec[n++] = *p == '+' ? ' ' : *p;
		}
	}
	dec[n] = '\0';
	fx_str_text(out, size, "%s", dec); /* the server's text: bytes that are not UTF-8 become '?' */
}

/* Whether the request itself holds name: a key of its JSON body or a query parameter it sent. */
static bool sent_by_client(const struct req *q, const char *name, size_t len)
{
	char key[80], named[256];
	const char *t;

	if (len + 3 > sizeof(key))
		return false;
	snprintf(key, sizeof(key), "\"%.*s\"", (int)len, name);
	if (q->body && q->len > 0 && memmem(q->body, q->len, key, len + 2))
		return true;
	t = q->target ? strchr(q->target, '?') : NULL;
	while (t) {
		t++;
		if (strncmp(t, name, len) == 0 && (t[len] == '=' || t[len] == '&' || t[len] == '\0'))
			return true;
		query_name_as_named(t, named, sizeof(named));
		if (strlen(named) == len && strncmp(named, name, len) == 0)
			return true;
		t = strchr(t, '&');
	}
	return false;
}

/*
 * The first part of field (dotted, with [n] indexes) the contract does not
 * name, into out; false when every part is the contract's. A part the
 * client sent itself is its own (a key of a free-form map such as
 * attributes, or an unknown field named back).
 */
static bool foreign_field(const struct req *q, const char *field, char *out, size_t len)
{
	const char *p = field;

	while (*p) {
		size_t n = strcspn(p, "."), name = strcspn(p, "[");

		if (name > n)
			name = n;
		if (!contract_has(p, name) && !sent_by_client(q, p, name)) {
			snprintf(out, len, "%.*s", (int)name, p);
			return true;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return false;
}

/* Notes one problem of an answer: the first names the kind, all go to w. */
__attribute__((format(printf, 4, 5))) static void problem(char *kind, size_t kind_len, struct sb *w, const char *fmt,
							  ...)
{
	va_list ap;
	char text[400];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!kind[0])
		snprintf(kind, kind_len, "%.*s", (int)strcspn(text, ":"), text);
	sb_printf(w, "%s%s", w->n ? "; " : "", text);
}

/*
 * What is wrong with an answer: kind names the first problem (in the order
 * below), why lists them all; false when nothing is.
 */
static bool check_answer(const struct req *q, const struct resp *r, char *kind, size_t kind_len, char *why,
			 size_t why_len)
{
	char rid[200], ra[64], ct[128];
	json_object *err = jget(r->json, "error");
	const char *st = jstr(err, "status"), *brid = jstr(err, "requestId");
	json_object *code = jget(err, "code");
	bool has_rid = resp_header(r, "X-Request-Id", rid, sizeof(rid)) != NULL;
	struct sb w = {0};

	kind[0] = '\0';
	if (r->status == 0) {
		problem(kind, kind_len, &w, "no answer: curl error %d: %s", r->curl_rc, r->curl_err);
	} else {
		if (r->status >= 500 && !(r->status == 503 && st && strcmp(st, "UNAVAILABLE") == 0 &&
					  resp_header(r, "Retry-After", ra, sizeof(ra))))
			problem(kind, kind_len, &w,
				"5xx: answer %ld (only a 503 UNAVAILABLE with Retry-After is the contract's)",
				r->status);
		if (resp_header(r, "Content-Type", ct, sizeof(ct)) && strncmp(ct, "application/json", 16) == 0 &&
		    !fx_json_utf8_valid(r->body, r->len))
			problem(kind, kind_len, &w, "answer not UTF-8: a JSON answer holds bytes that are not UTF-8");
		if (r->status >= 400 &&
		    (!err || !code || !json_object_is_type(code, json_type_int) || !st || !jstr(err, "message")))
			problem(kind, kind_len, &w, "error body not the contract's JSON: the body is not a JSON error");
		else if (r->status >= 400 && (json_object_get_int64(code) != r->status || !canonical(r->status, st)))
			problem(kind, kind_len, &w,
				"error code and status disagree: HTTP %ld, body code %lld status %s", r->status,
				(long long)json_object_get_int64(code), st);
		if (r->status >= 400 && err && json_object_is_type(jget(err, "details"), json_type_array)) {
			json_object *details = jget(err, "details");

			for (size_t i = 0; i < json_object_array_length(details); i++) {
				json_object *d = json_object_array_get_idx(details, i);
				const char *field = jstr(d, "field");
				char part[64];

				if (field && foreign_field(q, field, part, sizeof(part))) {
					problem(kind, kind_len, &w,
						"field not in the contract: details[%zu].field \"%.80s\" (\"%s\" is no "
						"name of docs/openapi.yaml)",
						i, field, part);
					break;
				}
			}
		}
		if (r->status >= 400 && has_rid && brid && strcmp(brid, rid) != 0)
			problem(kind, kind_len, &w, "requestId differs from X-Request-Id: header %s, body %s", rid,
				brid);
		if (!has_rid)
			problem(kind, kind_len, &w, "no X-Request-Id: the answer has no X-Request-Id header");
		if (kind[0])
			sb_printf(&w, "; body: %.200s", r->body);
	}
	snprintf(why, why_len, "%s", w.p ? w.p : "");
	free(w.p);
	return kind[0] != '\0';
}

/* ---- the monitor: restarts, sanitizer reports, nginx upstream errors ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static long read_restarts(char *groups, size_t len)
{
	DIR *d = opendir(G.cur->state_dir);
	struct dirent *de;
	long total = 0;

	if (groups && len)
		groups[0] = '\0';
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char path[1024];
		FILE *f;
		long v = 0;

		if (n < 10 || strcmp(de->d_name + n - 9, ".restarts") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", G.cur->state_dir, de->d_name);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%ld", &v) != 1)
				v = 0;
			fclose(f);
		}
		total += v;
		if (groups && v > 0) {
			size_t used = strlen(groups);

			snprintf(groups + used, len - used, "%s%.*s=%ld", used ? " " : "", (int)(n - 9), de->d_name, v);
		}
	}
	closedir(d);
	return total;
}

/* New sanitizer findings: "file: first error line" lines appended to out. */
static void scan_asan(struct sb *out, bool baseline)
{
	DIR *d;
	struct dirent *de;
	size_t plen = strlen(G.asan_prefix);

	if (!G.asan_dir[0] || !(d = opendir(G.asan_dir)))
		return;
	while ((de = readdir(d))) {
		char path[1024];
		struct stat st;
		int i;

		if (strncmp(de->d_name, G.asan_prefix, plen) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", G.asan_dir, de->d_name);
		if (stat(path, &st) != 0)
			continue;
		for (i = 0; i < G.nseen; i++)
			if (strcmp(G.seen[i].name, de->d_name) == 0)
				break;
		if (i < G.nseen && G.seen[i].size == (long)st.st_size)
			continue;
		if (i == G.nseen) {
			if (G.nseen == (int)(sizeof(G.seen) / sizeof(G.seen[0])))
				continue;
			snprintf(G.seen[G.nseen].name, sizeof(G.seen[0].name), "%s", de->d_name);
			G.nseen++;
		}
		G.seen[i].size = (long)st.st_size;
		if (!baseline) {
			FILE *f = fopen(path, "r");
			char line[1024];

			while (f && fgets(line, sizeof(line), f))
				if (strstr(line, "ERROR: AddressSanitizer") || strstr(line, "runtime error:") ||
				    strstr(line, "ERROR: LeakSanitizer")) {
					line[strcspn(line, "\n")] = '\0';
					sb_printf(out, "sanitizer report %s: %s\n", path, line);
					break;
				}
			if (f)
				fclose(f);
		}
	}
	closedir(d);
}

/*
 * New lines of one of the stack's logs that are findings: nginx's upstream
 * errors (a worker that broke its answer: no header, a bad one, died before
 * it, or reset the connection while nginx read it, so the client waits for
 * a body that never comes; nginx then tells the client the contract's 503,
 * which alone would pass), and sanitizer reports a worker wrote to stderr
 * (UBSan's, whose runtime in these builds does not always honour log_path).
 */
static void scan_log(const char *path, long *off, struct sb *out, bool baseline)
{
	FILE *f = fopen(path, "r");
	char line[2048];

	if (!f)
		return;
	if (fseek(f, *off, SEEK_SET) != 0)
		rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (baseline)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "upstream") &&
		    (strstr(line, "[error]") || strstr(line, "[crit]") || strstr(line, "[alert]")))
			sb_printf(out, "nginx: %.600s\n", line);
		else if (strstr(line, "runtime error:") || strstr(line, "ERROR: AddressSanitizer") ||
			 strstr(line, "ERROR: LeakSanitizer"))
			sb_printf(out, "sanitizer report in %s: %.600s\n", path, line);
	}
	*off = ftell(f);
	fclose(f);
}

/* Events since the last call (empty string: none); the caller frees. */
static char *monitor(bool baseline)
{
	struct sb out = {0};
	char groups[512];
	long r;

	pthread_mutex_lock(&G.mon_mu);
	r = read_restarts(groups, sizeof(groups));
	if (!baseline && r != G.cur->restarts)
		sb_printf(&out, "worker restarts of %s %ld -> %ld (%s)\n", G.cur->name, G.cur->restarts, r, groups);
	G.cur->restarts = r;
	scan_asan(&out, baseline);
	for (int i = 0; i < 2; i++)
		if (G.cur->logs[i][0])
			scan_log(G.cur->logs[i], &G.cur->log_off[i], &out, baseline);
	pthread_mutex_unlock(&G.mon_mu);
	return sb_take(&out);
}

/* ---- findings ---- */

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		if (n)
			fwrite(p, 1, n, f);
		fclose(f);
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (G.log) {
		va_start(ap, fmt);
		vfprintf(G.log, fmt, ap);
		va_end(ap);
		fflush(G.log);
	}
}

/* Shell-quotes s for the reproducer line (single quotes). */
static void shq(struct sb *b, const char *s)
{
	sb_puts(b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			sb_puts(b, "'\\''");
		else
			sb_add(b, s, 1);
	}
	sb_puts(b, "'");
}

struct ctx {
	struct route *rt;
	struct rng rng;
	int thread;
	int round;
	long budget; /* requests left for this route in this round; <0: no cap */
	long n; /* requests sent for this route in this round */
	bool wrote; /* a non-GET got a 2xx: the callers may have changed */
	char recent[4][420];
};

static void finding(struct ctx *c, const struct req *q, const struct resp *r, const char *kind, const char *why)
{
	long no = atomic_fetch_add(&G.findings, 1) + 1;
	char key[300], base[1024];
	struct sb cmd = {0}, hfile = {0};
	long count = 0;

	c->rt->found++;
	snprintf(key, sizeof(key), "%s %s: %s", c->rt->method, c->rt->pattern, kind);
	pthread_mutex_lock(&G.out_mu);
	for (int i = 0; i < G.nkinds; i++)
		if (strcmp(G.kinds[i].key, key) == 0)
			count = ++G.kinds[i].count;
	if (!count && G.nkinds < (int)(sizeof(G.kinds) / sizeof(G.kinds[0]))) {
		snprintf(G.kinds[G.nkinds].key, sizeof(G.kinds[0].key), "%.250s", key);
		count = G.kinds[G.nkinds++].count = 1;
	}
	if (count > 3) {
		pthread_mutex_unlock(&G.out_mu);
		return;
	}
	snprintf(base, sizeof(base), "%s/finding-%ld", G.o->out_dir, no);
	/* Header lines go to a file (curl -H @file): tokens and overlong values stay out of the log line. */
	if (q->who != P_NOTOKEN && !q->own_auth)
		sb_printf(&hfile, "Authorization: Bearer %s\n", G.p[q->who].u.id_token);
	if (q->ctype)
		sb_printf(&hfile, "Content-Type: %s\n", q->ctype);
	for (int i = 0; i < q->nh; i++)
		sb_printf(&hfile, "%s\n", q->hdr[i]);
	{
		char hpath[1100];

		snprintf(hpath, sizeof(hpath), "%s.headers", base);
		write_file(hpath, hfile.p ? hfile.p : "", hfile.n);
		sb_puts(&cmd, "curl -sS -i --path-as-is -X ");
		sb_puts(&cmd, q->method);
		sb_puts(&cmd, " ");
		{
			struct sb u = {0};

			sb_puts(&u, G.cur->base);
			sb_puts(&u, q->target);
			shq(&cmd, u.p);
			free(u.p);
		}
		sb_printf(&cmd, " -H @%s -H 'Expect:'", hpath);
		if (q->has_body) {
			char bpath[1100];

			snprintf(bpath, sizeof(bpath), "%s.body", base);
			write_file(bpath, q->body, q->len);
			sb_printf(&cmd, " --data-binary @%s", bpath);
		}
	}
	say("\nroutefuzz: FINDING %ld [%s] %s %s\n", no, kind, c->rt->method, c->rt->pattern);
	say("  why:     %s\n", why);
	say("  input:   %s (caller %s)\n", q->desc, pname[q->who]);
	say("  answer:  %ld, %zu bytes: %.160s\n", r ? r->status : 0L, r ? r->len : 0, r && r->body ? r->body : "");
	say("  seed:    %llu (round %d, request %ld of this route)\n", (unsigned long long)G.o->seed, c->round, c->n);
	say("  repro:   %s\n", cmd.p);
	if (count == 3)
		say("  (further findings of this kind on this route are counted, not printed)\n");
	pthread_mutex_unlock(&G.out_mu);
	free(cmd.p);
	free(hfile.p);
}

/* ---- sending one generated request ---- */

static void follow_upload(const struct resp *r);

/* Sends q (consumed) as the route's next request; false when the route's budget is spent. */
static bool emit(struct ctx *c, struct req *q)
{
	struct sb url = {0};
	char *headers[12], auth[4200], ctl[8200], kind[128], why[1024];
	int nh = 0;
	struct resp *r;
	char *events;

	if (c->budget == 0 || atomic_load(&G.stop) || (G.deadline > 0 && now_s() > G.deadline)) {
		req_free(q);
		return false;
	}
	sb_puts(&url, G.cur->base);
	sb_puts(&url, q->target);
	pthread_mutex_lock(&G.ids_mu);
	if (q->who != P_NOTOKEN && !q->own_auth) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", G.p[q->who].u.id_token);
		headers[nh++] = auth;
	}
	pthread_mutex_unlock(&G.ids_mu);
	if (q->ctype) {
		snprintf(ctl, sizeof(ctl), "Content-Type: %s", q->ctype);
		headers[nh++] = ctl;
	} else if (q->has_body) {
		headers[nh++] = "Content-Type:"; /* curl would add its form type */
	}
	for (int i = 0; i < q->nh; i++)
		headers[nh++] = q->hdr[i];
	snprintf(G.inflight[c->thread], sizeof(G.inflight[0]), "%s %.200s [%.200s]", q->method, q->target, q->desc);
	pthread_rwlock_rdlock(&G.excl);
	r = send_raw(q->method, url.p, headers, nh, q->body, q->len, q->has_body);
	pthread_rwlock_unlock(&G.excl);
	atomic_fetch_add(&G.requests, 1);
	c->rt->sent++;
	c->n++;
	if (c->budget > 0)
		c->budget--;
	if (G.trace) {
		pthread_mutex_lock(&G.out_mu);
		fprintf(G.trace, "%s %s %.300s [%s] as %s -> %ld %.120s\n", c->rt->pattern, q->method, q->target,
			q->desc, pname[q->who], r->status, r->json ? r->body : "");
		pthread_mutex_unlock(&G.out_mu);
	}
	if (check_answer(q, r, kind, sizeof(kind), why, sizeof(why)))
		finding(c, q, r, kind, why);
	/*
	 * A worker that died answers through nginx's 503 (or not at all), and so do the other requests
	 * it was serving. Events (restarts, sanitizer reports, nginx upstream errors) are kept pending;
	 * each request answered that way is sent again alone, with nothing else in flight: the one
	 * that makes the events happen again is the finding. Events nobody reproduces are reported
	 * after a few seconds with every request that was in flight.
	 */
	events = monitor(false);
	pthread_mutex_lock(&G.mon_mu);
	if (*events) {
		if (!G.pending.p)
			G.pending_at = now_s();
		sb_puts(&G.pending, events);
		for (int i = 0; i < 16; i++)
			if (i != c->thread && G.inflight[i][0])
				sb_printf(&G.pending, "  in flight on thread %d then: %.300s\n", i, G.inflight[i]);
	}
	pthread_mutex_unlock(&G.mon_mu);
	free(events);
	events = NULL;
	if (r->status == 503 || r->status == 0) {
		struct resp *again;
		char *first = NULL;

		atomic_fetch_add(&G.replaying, 1);
		pthread_rwlock_wrlock(&G.excl);
		usleep(300 * 1000); /* the supervisor counts the restart */
		events = monitor(false);
		pthread_mutex_lock(&G.mon_mu);
		if (*events) {
			if (!G.pending.p)
				G.pending_at = now_s();
			sb_puts(&G.pending, events);
		}
		pthread_mutex_unlock(&G.mon_mu);
		free(events);
		again = send_raw(q->method, url.p, headers, nh, q->body, q->len, q->has_body);
		atomic_fetch_add(&G.requests, 1);
		usleep(300 * 1000);
		events = monitor(false);
		if (*events) {
			struct sb w = {0};

			pthread_mutex_lock(&G.mon_mu);
			first = G.pending.p ? sb_take(&G.pending) : NULL;
			pthread_mutex_unlock(&G.mon_mu);
			sb_printf(&w, "sent again alone, it did it again (answer %ld):\n%s", again->status, events);
			if (first)
				sb_printf(&w, "the first time:\n%s", first);
			w.n = w.n && w.p[w.n - 1] == '\n' ? w.n - 1 : w.n;
			w.p[w.n] = '\0';
			finding(c, q, r,
				strstr(w.p, "sanitizer report")	 ? "sanitizer report"
				: strstr(w.p, "worker restarts") ? "worker restart"
								 : "nginx upstream error",
				w.p);
			free(w.p);
			free(first);
		}
		free(events);
		events = NULL;
		resp_free(again);
		pthread_rwlock_unlock(&G.excl);
		atomic_fetch_sub(&G.replaying, 1);
	}
	{
		char *take = NULL;

		pthread_mutex_lock(&G.mon_mu);
		/* Not while a request waits to be sent again alone: it may be the one. */
		if (G.pending.p && G.pending.n && now_s() - G.pending_at > 5.0 && atomic_load(&G.replaying) == 0) {
			sb_puts(&G.pending,
				"  (no request made it happen again when sent alone: attributed to the one that "
				"noticed)\n");
			for (int i = 0; i < 4; i++)
				if (c->recent[i][0])
					sb_printf(&G.pending, "  sent before on this thread: %.300s\n", c->recent[i]);
			take = sb_take(&G.pending);
		}
		pthread_mutex_unlock(&G.mon_mu);
		if (take) {
			size_t n = strlen(take);

			if (n && take[n - 1] == '\n')
				take[n - 1] = '\0';
			finding(c, q, r,
				strstr(take, "sanitizer report")  ? "sanitizer report"
				: strstr(take, "worker restarts") ? "worker restart"
								  : "nginx upstream error",
				take);
			free(take);
		}
	}
	free(url.p);
	free(events);
	G.inflight[c->thread][0] = '\0';
	memmove(c->recent[1], c->recent[0], sizeof(c->recent[0]) * 3);
	snprintf(c->recent[0], sizeof(c->recent[0]), "%s %.200s [%.200s]", q->method, q->target, q->desc);
	learn(c->rt, q, r);
	{
		char made_by[600];

		snprintf(made_by, sizeof(made_by), "%s %s [%.300s]", q->method, c->rt->pattern, q->desc);
		harvest(c->rt, q->who, r,
			strncmp(q->desc, "set-up", 6) != 0 && strncmp(q->desc, "the seed request", 16) != 0
				? (int)(c->rt - G.routes)
				: -1,
			made_by);
	}
	if (r->status >= 200 && r->status < 300 && strcmp(q->method, "GET") != 0)
		c->wrote = true;
	if (r->status == 201 && jstr(r->json, "uploadUrl"))
		follow_upload(r);
	resp_free(r);
	req_free(q);
	return true;
}

/* A :signUpload answer: upload bytes of the declared type and size, as a client would. */
static void follow_upload(const struct resp *r)
{
	json_object *file = jget(r->json, "file"), *hdrs = jget(r->json, "headers");
	const char *url = jstr(r->json, "uploadUrl"), *method = jstr(r->json, "method");
	const char *ctype = jstr(file, "contentType");
	int64_t size = json_object_get_int64(jget(file, "size"));
	char *headers[8];
	int nh = 0;
	char *data;
	const char *m = "";
	struct resp *up;

	if (!url || !method || !ctype || size <= 0 || size > 256 * 1024)
		return;
	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if (strncasecmp(ctype, magic[i][0], strlen(magic[i][0])) == 0)
			m = magic[i][1];
	data = malloc((size_t)size);
	if (!data)
		abort();
	memset(data, 'a', (size_t)size);
	memcpy(data, m, strlen(m) < (size_t)size ? strlen(m) : (size_t)size);
	if (strcmp(m, "RIFF\x08") == 0 && size >= 12)
		memcpy(data, "RIFF\x08\0\0\0WEBP", 12);
	if (hdrs && json_object_is_type(hdrs, json_type_object)) {
		json_object_object_foreach(hdrs, k, v)
		{
			if (nh < 8 && json_object_is_type(v, json_type_string)) {
				struct sb line = {0};

				sb_printf(&line, "%s: %s", k, json_object_get_string(v));
				headers[nh++] = sb_take(&line);
			}
		}
	}
	up = send_raw(method, url, headers, nh, data, (size_t)size, true);
	resp_free(up);
	for (int i = 0; i < nh; i++)
		free(headers[i]);
	free(data);
}

/* ---- building requests ---- */

/* The route's path with each {param} replaced: vals[i] (already encoded) or a pool id of org. */
static char *make_path(const struct route *rt, int org, const char *const *vals, int nvals, int pick)
{
	struct sb b = {0};
	const char *p = rt->pattern;
	int i = 0;

	while (*p) {
		if (*p == '{') {
			const char *end = strchr(p, '}');

			if (i < nvals && vals[i]) {
				sb_puts(&b, vals[i]);
			} else {
				char pool[48], id[256];

				param_pool(rt->pattern, p, pool, sizeof(pool));
				if (pool_get(pool, org < 0 ? 0 : org, pick, pick == 0, id, sizeof(id)) ||
				    pool_get(pool, org < 0 ? 0 : org, 0, true, id, sizeof(id))) {
					char *e = pct(id, strlen(id));

					sb_puts(&b, e);
					free(e);
				} else {
					sb_puts(&b, "none");
				}
			}
			i++;
			p = end ? end + 1 : p + strlen(p);
		} else {
			sb_add(&b, p, 1);
			p++;
		}
	}
	return sb_take(&b);
}

static int nparams(const struct route *rt)
{
	int n = 0;

	for (const char *p = rt->pattern; *p; p++)
		n += *p == '{';
	return n;
}

/* The caller a case runs as when it is not about callers: the route's own organization's owner. */
static int default_who(const struct route *rt)
{
	if (strcmp(rt->access, "public") == 0)
		return P_NOTOKEN;
	if (strcmp(rt->pattern, "/v1/organizations") == 0 && strcmp(rt->method, "POST") == 0)
		return P_NOORG;
	return P_OWNER;
}

/* A request of the route with valid path, no query, the seed body. */
static void base_req(struct ctx *c, struct req *q, int who)
{
	memset(q, 0, sizeof(*q));
	q->method = c->rt->method;
	q->who = who;
	q->target = make_path(c->rt, org_of(who), NULL, 0, 0);
	if (strcmp(c->rt->body, "json") == 0) {
		char *b = seed_body(c->rt, who);

		req_body(q, "application/json", b, strlen(b));
		free(b);
	} else if (strcmp(c->rt->body, "raw") == 0) {
		static const char png[] = "\x89PNG\r\n\x1a\n0123456789abcdef";
		char *t;

		req_body(q, "image/png", png, sizeof(png) - 1);
		req_header(q, "X-File-Name: logo.png");
		t = malloc(strlen(q->target) + 32);
		if (!t)
			abort();
		snprintf(t, strlen(q->target) + 32, "%s?kind=document", q->target);
		free(q->target);
		q->target = t;
	}
}

static void set_desc(struct req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_desc(struct req *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->desc, sizeof(q->desc), fmt, ap);
	va_end(ap);
}

/* Describes a generated value briefly: its length in characters and bytes and its start. */
static void describe(char *out, size_t len, const char *v, size_t n)
{
	long chars = 0;
	struct sb b = {0};

	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)v[i] & 0xc0) != 0x80;
	for (size_t i = 0; i < n && i < 24; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			sb_add(&b, &v[i], 1);
		else
			sb_printf(&b, "\\x%02x", ch);
	}
	snprintf(out, len, "%ld chars / %zu bytes \"%s%s\"", chars, n, b.p ? b.p : "", n > 24 ? "..." : "");
	free(b.p);
}

/* Appends ?query (or &query) to q's target. */
static void add_query(struct req *q, const char *query)
{
	struct sb b = {0};

	sb_puts(&b, q->target);
	sb_puts(&b, strchr(q->target, '?') ? "&" : "?");
	sb_puts(&b, query);
	free(q->target);
	q->target = sb_take(&b);
}

/* ---- JSON body mutation ---- */

/* Leaf and object paths of a seed, in contract notation ("address.city", "items[0].quantity"). */
static void paths_of(json_object *o, const char *prefix, char paths[][128], int *n, int max)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			char p[128];

			snprintf(p, sizeof(p), "%s%s%s", prefix, *prefix ? "." : "", k);
			if (*n < max)
				snprintf(paths[(*n)++], 128, "%s", p);
			paths_of(v, p, paths, n, max);
		}
	} else if (json_object_is_type(o, json_type_array) && json_object_array_length(o) > 0) {
		char p[128];

		snprintf(p, sizeof(p), "%s[0]", prefix);
		paths_of(json_object_array_get_idx(o, 0), p, paths, n, max);
	}
}

/*
 * Replaces (v non-NULL) or deletes the value at path in root; false when the
 * path does not resolve. Takes v's reference either way: v is put when it
 * was not placed.
 */
static bool set_path(json_object *root, const char *path, json_object *v)
{
	char buf[128], *seg, *save = NULL;
	json_object *cur = root, *parent = NULL;
	char last[128] = "";
	long idx = -1;

	snprintf(buf, sizeof(buf), "%s", path);
	for (seg = strtok_r(buf, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
		char *br = strchr(seg, '[');

		if (br)
			*br = '\0';
		parent = cur;
		snprintf(last, sizeof(last), "%s", seg);
		idx = -1;
		cur = jget(cur, seg);
		if (!cur)
			break;
		if (br) {
			idx = strtol(br + 1, NULL, 10);
			if (!json_object_is_type(cur, json_type_array) ||
			    (size_t)idx >= json_object_array_length(cur)) {
				json_object_put(v);
				return false;
			}
			parent = cur;
			cur = json_object_array_get_idx(cur, (size_t)idx);
		}
		if (!save || !*save)
			break;
	}
	if (!parent || (idx < 0 && !json_object_is_type(parent, json_type_object))) {
		json_object_put(v);
		return false;
	}
	if (idx >= 0) {
		if (v)
			json_object_array_put_idx(parent, (size_t)idx, v);
		else
			json_object_array_del_idx(parent, (size_t)idx, 1);
	} else if (v) {
		json_object_object_add(parent, last, v);
	} else {
		json_object_object_del(parent, last);
	}
	return true;
}

#define RAW_MARK "\"@@raw@@\""

/* The seed with path's value replaced by v (owned), or by raw text when raw is set; malloc'd. */
static char *mutate(const char *seed, const char *path, json_object *v, const char *raw)
{
	json_object *root = json_tokener_parse(seed);
	struct sb b = {0};
	const char *t, *m;

	if (!root) {
		json_object_put(v);
		return xstrdup(seed);
	}
	if (raw) {
		json_object_put(v);
		v = json_object_new_string("@@raw@@");
	}
	set_path(root, path, v);
	t = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (raw && (m = strstr(t, RAW_MARK))) {
		sb_add(&b, t, (size_t)(m - t));
		sb_puts(&b, raw);
		sb_puts(&b, m + strlen(RAW_MARK));
	} else {
		sb_puts(&b, t);
	}
	json_object_put(root);
	return sb_take(&b);
}

static json_object *value_at(json_object *root, const char *path)
{
	char buf[128], *seg, *save = NULL;
	json_object *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (seg = strtok_r(buf, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save)) {
		char *br = strchr(seg, '[');

		if (br)
			*br = '\0';
		cur = jget(cur, seg);
		if (cur && br)
			cur = json_object_array_get_idx(cur, (size_t)strtol(br + 1, NULL, 10));
	}
	return cur;
}

/* Emits route c with the body text given (JSON content type unless ctype says otherwise). */
static bool emit_body(struct ctx *c, int who, const char *ctype, const char *body, size_t n, const char *what)
{
	struct req q;

	base_req(c, &q, who);
	req_body(&q, ctype, body, n);
	set_desc(&q, "body: %s", what);
	return emit(c, &q);
}

/* Default limits to probe when the answers taught none. */
static const long default_limits[] = {32, 64, 100, 128, 200, 255, 256, 1000, 1024};
_Static_assert(sizeof(default_limits) / sizeof(default_limits[0]) <= 16, "the limit arrays hold 16");

/* The string cases of one field: its limits in characters and bytes, with 1-4 byte characters. */
static bool string_cases(struct ctx *c, int who, const char *seed, const char *path, const char *orig, bool full)
{
	long lim[16];
	int nl;
	char d[200], what[400];

	/* The probe: far over any sane limit, so the answer names the limit. */
	{
		char *v = pad_string("", 1, 5000, false);
		char *b = mutate(seed, path, json_object_new_string(v), NULL);
		bool ok;

		snprintf(what, sizeof(what), "%s = 5000 ASCII characters (limit probe)", path);
		ok = emit_body(c, who, "application/json", b, strlen(b), what);
		free(v);
		free(b);
		if (!ok)
			return false;
	}
	nl = limits_of(c->rt, path, lim, 16);
	if (nl == 0) {
		nl = full ? (int)(sizeof(default_limits) / sizeof(default_limits[0])) : 2;
		memcpy(lim, full ? default_limits : (const long[]){100, 256}, (size_t)nl * sizeof(long));
	}
	for (int i = 0; i < nl; i++) {
		static const struct {
			int w;
			int delta;
			bool bytes;
			bool param;
		} shape[] = {
			{4, 0, false, true},  {4, 1, false, true}, {4, 0, false, false}, {1, 1, true, false},
			{2, 0, false, false}, {4, 0, true, false}, {3, 1, false, true},	 {1, 0, true, false},
		};
		int nshape = full ? 8 : 6;

		for (int s = 0; s < nshape; s++) {
			struct sb pre = {0};
			char *v, *b;
			bool ok;

			sb_puts(&pre, orig ? orig : "");
			if (shape[s].param)
				sb_puts(&pre, ";p=");
			v = pad_string(pre.p ? pre.p : "", shape[s].w, lim[i] + shape[s].delta, shape[s].bytes);
			free(pre.p);
			b = mutate(seed, path, json_object_new_string(v), NULL);
			describe(d, sizeof(d), v, strlen(v));
			snprintf(what, sizeof(what), "%s = %s (limit %ld%s, %d-byte characters%s)", path, d, lim[i],
				 shape[s].delta ? " + 1" : "", shape[s].w, shape[s].bytes ? ", counted in bytes" : "");
			ok = emit_body(c, who, "application/json", b, strlen(b), what);
			free(v);
			free(b);
			if (!ok)
				return false;
		}
	}
	return true;
}

/* Type swaps and odd values for one field. */
static bool value_cases(struct ctx *c, int who, const char *seed, const char *path)
{
	static const char *const raws[] = {"null",
					   "true",
					   "0",
					   "-1",
					   "2147483648",
					   "9007199254740993",
					   "9223372036854775807",
					   "9223372036854775808",
					   "-9223372036854775809",
					   "1e308",
					   "1e309",
					   "1.5",
					   "-0",
					   "\"\"",
					   "\"\\u0000\"",
					   "\"\\ud800\"",
					   "[]",
					   "{}",
					   "[[[[[[[[[[]]]]]]]]]]",
					   "\"1\"",
					   "123456789012345678901234567890123456789"};
	char what[300];

	{
		char *b = mutate(seed, path, NULL, NULL);
		bool ok;

		snprintf(what, sizeof(what), "%s left out", path);
		ok = emit_body(c, who, "application/json", b, strlen(b), what);
		free(b);
		if (!ok)
			return false;
	}
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		char *b = mutate(seed, path, NULL, raws[i]);
		bool ok;

		snprintf(what, sizeof(what), "%s = %s", path, raws[i]);
		ok = emit_body(c, who, "application/json", b, strlen(b), what);
		free(b);
		if (!ok)
			return false;
	}
	return true;
}

/* Whole-body shapes: not JSON, not UTF-8, duplicate keys, thousands of keys, deep nesting, too big. */
static bool body_shapes(struct ctx *c, int who, const char *seed, bool full)
{
	struct sb b = {0};
	char what[200];
	const char *first = strchr(seed, '{');
	bool ok = true;

	static const char *const texts[] = {"",
					    "{",
					    "}",
					    "null",
					    "[]",
					    "\"x\"",
					    "{}x",
					    "{\"a\":1,}",
					    "{'a':1}",
					    "\xef\xbb\xbf{}",
					    "{\"\xff\":1}",
					    "{\"a\":\"\xc0\xaf\"}",
					    "{\"a\":\"\xed\xa0\x80\"}",
					    "{\"a\":\"\xf4\x90\x80\x80\"}",
					    "{\"a\":\"\xf0\x9f\"}",
					    "{\"a\":\"x\0y\"}"};
	static const char with_nul[] = "{\"a\":\"x\0y\"}";

	for (size_t i = 0; ok && i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = i == sizeof(texts) / sizeof(texts[0]) - 1 ? sizeof(with_nul) - 1 : strlen(texts[i]);

		describe(what, sizeof(what), texts[i], n);
		ok = emit_body(c, who, "application/json", texts[i], n, what);
	}
	/* The seed's first key twice. */
	if (ok && first && first[1] == '"') {
		const char *colon = strchr(first, ':'), *comma = colon ? strpbrk(colon, ",}") : NULL;

		if (comma) {
			sb_add(&b, "{", 1);
			sb_add(&b, first + 1, (size_t)(comma - first - 1));
			sb_puts(&b, ",");
			sb_puts(&b, first + 1);
			ok = emit_body(c, who, "application/json", b.p, b.n, "the seed with its first key twice");
			free(sb_take(&b));
		}
	}
	/* Thousands of keys, at the top and inside. */
	{
		static const long counts[] = {5000, 60000};
		int nc = full ? 2 : 1;

		for (int k = 0; ok && k < nc; k++) {
			sb_puts(&b, "{");
			for (long i = 0; i < counts[k]; i++)
				sb_printf(&b, "%s\"k%ld\":%ld", i ? "," : "", i, i);
			sb_puts(&b, "}");
			snprintf(what, sizeof(what), "%ld keys", counts[k]);
			ok = emit_body(c, who, "application/json", b.p, b.n, what);
			free(sb_take(&b));
		}
	}
	/* Nesting at, just over and far over the contract's 32. */
	{
		static const int depth[] = {32, 33, 100000};

		for (int k = 0; ok && k < 3; k++) {
			sb_puts(&b, "{\"a\":");
			for (int i = 1; i < depth[k] - 1; i++)
				sb_puts(&b, "[");
			sb_puts(&b, "{}");
			for (int i = 1; i < depth[k] - 1; i++)
				sb_puts(&b, "]");
			sb_puts(&b, "}");
			snprintf(what, sizeof(what), "nesting depth %d", depth[k]);
			ok = emit_body(c, who, "application/json", b.p, b.n, what);
			free(sb_take(&b));
		}
	}
	/* Just over the route's body limit. */
	if (ok && full && c->rt->max_body > 0 && (size_t)c->rt->max_body < MAX_BODY_SENT) {
		size_t n = (size_t)c->rt->max_body + 1;
		char *big = malloc(n);

		if (!big)
			abort();
		memset(big, ' ', n);
		big[0] = '{';
		big[n - 1] = '}';
		ok = emit_body(c, who, "application/json", big, n, "one byte over the route's body limit");
		free(big);
	}
	free(b.p);
	return ok;
}

/* ---- the stages of one route ---- */

static bool stage_roles(struct ctx *c)
{
	for (int w = 0; w < NP; w++) {
		struct req q;

		base_req(c, &q, w);
		set_desc(&q, "the seed request as %s", pname[w]);
		if (!emit(c, &q))
			return false;
	}
	/* Another organization's ids with this organization's caller, and the reverse. */
	if (nparams(c->rt) > 0) {
		struct req q;

		base_req(c, &q, P_OWNER);
		free(q.target);
		q.target = make_path(c->rt, 1, NULL, 0, 0);
		set_desc(&q, "another organization's ids");
		if (!emit(c, &q))
			return false;
	}
	return true;
}

static const char *const odd_ids[] = {
	"zzzzzzzzzzzzzzzzzzzz",
	"%00",
	"a%00b",
	"%",
	"%ZZ",
	"%2F",
	"..",
	".",
	"%2e%2e",
	"a%2Fb",
	"%C3%A9",
	"\xc3\xa9",
	"%F0%9F%98%80",
	"%FF",
	"+",
	"%20",
	"a;b",
	"*",
	"",
	"~",
	"%252F",
	"a%2e%2e%2fb",
	"%C0%AF",
	"%ED%A0%80",
};

static bool stage_paths(struct ctx *c)
{
	int np = nparams(c->rt);

	for (int i = 0; i < np; i++) {
		const char *vals[4] = {NULL, NULL, NULL, NULL};
		char pool[48];
		const char *p = c->rt->pattern;
		int k = 0;

		for (; *p; p++)
			if (*p == '{' && k++ == i)
				break;
		param_pool(c->rt->pattern, p, pool, sizeof(pool));
		/* Every recent id of the pool: real resources in every state the run put them in. */
		for (int j = 0; j < SWEEP_IDS && j < pool_size(pool, 0); j++) {
			struct req q;
			char id[256], by[400], *e;

			if (!pool_get_by(pool, 0, j, false, id, sizeof(id), by, sizeof(by)))
				break;
			base_req(c, &q, default_who(c->rt));
			e = pct(id, strlen(id));
			vals[i] = e;
			free(q.target);
			q.target = make_path(c->rt, 0, vals, np, 0);
			set_desc(&q, "{%d} = pool %s id %s%s%.300s", i, pool, id, *by ? ", made by " : "", by);
			free(e);
			vals[i] = NULL;
			if (!emit(c, &q))
				return false;
		}
		for (size_t j = 0; j < sizeof(odd_ids) / sizeof(odd_ids[0]) + 6; j++) {
			struct req q;
			char *gen = NULL, d[200];

			if (j < sizeof(odd_ids) / sizeof(odd_ids[0])) {
				vals[i] = odd_ids[j];
			} else {
				static const long lens[] = {128, 129, 1000, 7000, 32, 33};
				size_t m = j - sizeof(odd_ids) / sizeof(odd_ids[0]);

				if (m < 4) {
					gen = pad_string("", 1, lens[m], false);
				} else {
					char *raw = pad_string("", 4, lens[m] * (m == 4 ? 1 : 4), false);

					gen = pct(raw, strlen(raw));
					free(raw);
				}
				vals[i] = gen;
			}
			base_req(c, &q, default_who(c->rt));
			free(q.target);
			q.target = make_path(c->rt, 0, vals, np, 0);
			describe(d, sizeof(d), vals[i], strlen(vals[i]));
			set_desc(&q, "{%d} = %s", i, d);
			vals[i] = NULL;
			free(gen);
			if (!emit(c, &q))
				return false;
		}
	}
	/* The route's literal parts: trailing slash, doubled slashes, dot segments, custom verb case. */
	{
		static const char *const forms[] = {"%s/", "/%s", "%s/.", "%s/..", "%s%%2F", "%s:", "%s;x"};

		for (size_t j = 0; j < sizeof(forms) / sizeof(forms[0]); j++) {
			struct req q;
			struct sb t = {0};
			char *ex;

			base_req(c, &q, default_who(c->rt));
			ex = strchr(q.target, '?');
			if (ex)
				*ex = '\0';
				/* forms holds this file's literal formats (-Wformat=2 cannot see that). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			sb_printf(&t, forms[j], q.target);
#pragma GCC diagnostic pop
			free(q.target);
			q.target = sb_take(&t);
			set_desc(&q, "path form %s", forms[j]);
			if (!emit(c, &q))
				return false;
		}
	}
	return true;
}

static int known_q(struct route *rt, const char *name)
{
	for (int i = 0; i < rt->nq; i++)
		if (strcmp(rt->q[i].name, name) == 0)
			return i;
	if (rt->nq == (int)(sizeof(rt->q) / sizeof(rt->q[0])))
		return -1;
	snprintf(rt->q[rt->nq].name, sizeof(rt->q[0].name), "%s", name);
	rt->q[rt->nq].state = 0;
	return rt->nq++;
}

static const char *qvalue(const char *name, int k)
{
	for (size_t i = 0; i < sizeof(qvalues) / sizeof(qvalues[0]); i++)
		if (strcmp(qvalues[i][0], name) == 0)
			return k >= 0 && k < 5 ? qvalues[i][1 + k] : NULL;
	return NULL;
}

static bool emit_query(struct ctx *c, const char *query, const char *what)
{
	struct req q;

	base_req(c, &q, default_who(c->rt));
	add_query(&q, query);
	set_desc(&q, "query: %s", what);
	return emit(c, &q);
}

static bool stage_query(struct ctx *c, bool full)
{
	struct route *rt = c->rt;
	char what[400], d[200];

	/* Which of the contract's parameters the route takes: the answers say which are unknown. */
	for (int i = 0; qnames[i]; i++) {
		int k = known_q(rt, qnames[i]);
		struct sb qs = {0};
		bool ok;

		if (k < 0 || rt->q[k].state)
			continue;
		sb_printf(&qs, "%s=%s", qnames[i], qvalue(qnames[i], 0) ? qvalue(qnames[i], 0) : "1");
		snprintf(what, sizeof(what), "%s", qs.p);
		ok = emit_query(c, qs.p, what);
		free(qs.p);
		if (!ok)
			return false;
		if (rt->q[k].state == 0)
			rt->q[k].state = 1;
	}
	/* Each parameter the route takes: first its limits in characters and bytes (the cases that reach
	 * fixed buffers), then its values and malformed forms. */
	for (int k = 0; k < rt->nq; k++) {
		const char *name = rt->q[k].name;
		long lim[16];
		int nl;

		if (rt->q[k].state != 1)
			continue;
		{
			char *v = pad_string("", 1, 3000, false);
			struct sb qs = {0};
			bool ok;

			sb_printf(&qs, "%s=%s", name, v);
			snprintf(what, sizeof(what), "%s = 3000 ASCII characters (limit probe)", name);
			ok = emit_query(c, qs.p, what);
			free(qs.p);
			free(v);
			if (!ok)
				return false;
		}
		nl = limits_of(rt, name, lim, 16);
		if (nl == 0) {
			nl = full ? (int)(sizeof(default_limits) / sizeof(default_limits[0])) : 2;
			memcpy(lim, full ? default_limits : (const long[]){100, 256}, (size_t)nl * sizeof(long));
		}
		for (int i = 0; i < nl; i++) {
			static const struct {
				int w, delta;
				bool bytes;
			} shape[] = {{4, 0, false}, {4, 1, false}, {1, 1, true}, {2, 0, false},
				     {4, 0, true},  {3, 1, false}, {1, 0, true}, {2, 1, true}};
			int nshape = full ? 8 : 5;

			for (int s = 0; s < nshape; s++) {
				char *v = pad_string("", shape[s].w, lim[i] + shape[s].delta, shape[s].bytes);
				char *e = pct(v, strlen(v));
				struct sb qs = {0};
				bool ok;

				sb_printf(&qs, "%s=%s", name, e);
				describe(d, sizeof(d), v, strlen(v));
				snprintf(what, sizeof(what), "%s = %s (limit %ld%s, %d-byte characters%s)", name, d,
					 lim[i], shape[s].delta ? " + 1" : "", shape[s].w,
					 shape[s].bytes ? ", counted in bytes" : "");
				ok = emit_query(c, qs.p, what);
				free(qs.p);
				free(e);
				free(v);
				if (!ok)
					return false;
			}
		}
	}
	for (int k = 0; k < rt->nq; k++) {
		const char *name = rt->q[k].name;

		if (rt->q[k].state != 1)
			continue;
		for (int v = 1; v < 5 && qvalue(name, v); v++) {
			char *e = pct(qvalue(name, v), strlen(qvalue(name, v)));
			struct sb qs = {0};
			bool ok;

			sb_printf(&qs, "%s=%s", name, e);
			ok = emit_query(c, qs.p, qs.p);
			free(qs.p);
			free(e);
			if (!ok)
				return false;
		}
		{
			static const char *const odd[] = {
				"%s=a&%s=b", "%s=",	  "%s",		 "%s=%%00", "%s=%%FF",
				"%s=%%",     "%s=a%%00b", "%s=%%C0%%AF", "%s=+",    "%s=%%F0%%9F%%98"};

			for (size_t j = 0; j < sizeof(odd) / sizeof(odd[0]); j++) {
				struct sb qs = {0};
				bool ok;

				/* odd holds this file's literal formats. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
				sb_printf(&qs, odd[j], name, name);
#pragma GCC diagnostic pop
				ok = emit_query(c, qs.p, qs.p);
				free(qs.p);
				if (!ok)
					return false;
			}
		}
	}
	/* Unknown, many and malformed parameters. */
	{
		static const char *const odd[] = {"zzUnknown=1", "=1",	  "&&&", "a=1&a=1&a=1",
						  "%00=1",	 "%FF=1", "?=?", "pageSize=1&pageSize=2"};
		struct sb qs = {0};

		for (size_t j = 0; j < sizeof(odd) / sizeof(odd[0]); j++)
			if (!emit_query(c, odd[j], odd[j]))
				return false;
		for (int i = 0; i < 300; i++)
			sb_printf(&qs, "%sp%d=%d", i ? "&" : "", i, i);
		if (!emit_query(c, qs.p, "300 parameters")) {
			free(qs.p);
			return false;
		}
		free(qs.p);
	}
	return true;
}

static bool emit_header(struct ctx *c, int who, const char *line, const char *ctype, const char *what)
{
	struct req q;

	base_req(c, &q, who);
	if (ctype) {
		free(q.ctype);
		q.ctype = xstrdup(ctype);
		if (!q.has_body) {
			req_body(&q, ctype, "{}", 2);
		}
	}
	if (line)
		req_header(&q, line);
	set_desc(&q, "header: %s", what);
	return emit(c, &q);
}

static bool stage_headers(struct ctx *c, bool full)
{
	int who = default_who(c->rt);
	char what[300], d[200], etag[200];
	struct sb l = {0};
	bool raw = strcmp(c->rt->body, "raw") == 0;

	/* Content-Type: odd, overlong, with parameters, multi-byte parameters at lengths around header buffers. */
	{
		static const char *const fixed[] = {"application/json; charset=utf-8",
						    "APPLICATION/JSON",
						    "application/jsonx",
						    "text/plain",
						    "",
						    "application/json;",
						    "application/json ; x=\"\\\"\"",
						    "multipart/form-data; boundary=x",
						    "text/csv; charset=latin1",
						    "image/png;;;",
						    "image/png\t"};
		static const long lens[] = {127, 128, 255, 256, 500, 1000, 4000};

		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			if (!emit_header(c, who, NULL, fixed[i], fixed[i]))
				return false;
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			const char *prefix = raw ? "text/csv; p=" : "application/json; p=";
			char *v = pad_string(prefix, i % 2 ? 1 : 4, lens[i], false);

			describe(d, sizeof(d), v, strlen(v));
			snprintf(what, sizeof(what), "Content-Type %s", d);
			if (!emit_header(c, who, NULL, v, what)) {
				free(v);
				return false;
			}
			free(v);
		}
	}
	/* X-File-Name (the files route reads it; others must ignore it). */
	{
		static const char *const names[] = {
			"../../etc/passwd",	 "..\\..\\x", "/abs/x.png", "%00",  "%FF",   "a%", "%2e%2e%2fx",
			"\xc3\xa9t\xc3\xa9.png", "",	      "CON",	    ".png", "%C0%AF"};
		static const long lens[] = {100, 101, 127, 128, 255, 256, 1024, 8000};

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && (raw || i < 3); i++) {
			sb_printf(&l, "X-File-Name: %s", names[i]);
			if (!emit_header(c, who, l.p, NULL, l.p))
				goto fail;
			free(sb_take(&l));
		}
		for (size_t i = 0; raw && i < sizeof(lens) / sizeof(lens[0]); i++) {
			char *v = pad_string(".png", 4, lens[i], false), *e = pct(v, strlen(v));

			sb_printf(&l, "X-File-Name: %s", i % 2 ? v : e);
			describe(d, sizeof(d), v, strlen(v));
			snprintf(what, sizeof(what), "X-File-Name %s%s", i % 2 ? "" : "percent-encoded ", d);
			free(v);
			free(e);
			if (!emit_header(c, who, l.p, NULL, what))
				goto fail;
			free(sb_take(&l));
		}
	}
	/* If-Match and Idempotency-Key. */
	{
		static const char *const ifm[] = {"*", "\"x\"", "W/\"x\"", "", "\xf0\x9f\x98\x80", "a,b"};
		static const long lens[] = {255, 256, 1000};

		if (pool_get("etag", 0, 0, true, etag, sizeof(etag))) {
			sb_printf(&l, "If-Match: %s", etag);
			if (!emit_header(c, who, l.p, NULL, "If-Match with a recent etag"))
				goto fail;
			free(sb_take(&l));
		}
		for (size_t i = 0; i < sizeof(ifm) / sizeof(ifm[0]); i++) {
			sb_printf(&l, "If-Match: %s", ifm[i]);
			if (!emit_header(c, who, l.p, NULL, l.p))
				goto fail;
			free(sb_take(&l));
		}
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
			for (int w = 1; w <= 4; w += 3) {
				char *v = pad_string("", w, lens[i], false);

				describe(d, sizeof(d), v, strlen(v));
				sb_printf(&l, "Idempotency-Key: %s", v);
				snprintf(what, sizeof(what), "Idempotency-Key %s", d);
				free(v);
				if (!emit_header(c, who, l.p, NULL, what))
					goto fail;
				free(sb_take(&l));
				if (!full)
					break;
			}
		sb_printf(&l, "If-Match: %s", "");
		{
			char *v = pad_string("\"", 4, 2000, false);

			free(sb_take(&l));
			sb_printf(&l, "If-Match: %s\"", v);
			free(v);
			if (!emit_header(c, who, l.p, NULL, "If-Match of 2000 4-byte characters"))
				goto fail;
			free(sb_take(&l));
		}
	}
	/* Authorization and request ids. */
	{
		static const long lens[] = {4000, 16000, 65536};
		static const char *const odd[] = {"Authorization: Bearer",	    "Authorization: Basic YTpi",
						  "Authorization: Bearer a.b.c",    "Authorization: bearer x",
						  "X-Request-Id: \xf0\x9f\x98\x80", "X-Request-Id: a b",
						  "traceparent: 00-zz-zz-01",	    "X-Cloud-Trace-Context: %%%/;o=9"};

		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
			if (!emit_header(c, who, odd[i], NULL, odd[i]))
				goto fail;
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			char *v = pad_string("", 1, lens[i], false);

			sb_printf(&l, "Authorization: Bearer %s", v);
			free(v);
			snprintf(what, sizeof(what), "Authorization of %ld bytes", lens[i]);
			if (!emit_header(c, who, l.p, NULL, what))
				goto fail;
			free(sb_take(&l));
		}
		{
			char *v = pad_string("", 1, 65, false);

			sb_printf(&l, "X-Request-Id: %s", v);
			free(v);
			if (!emit_header(c, who, l.p, NULL, "X-Request-Id of 65 characters"))
				goto fail;
			free(sb_take(&l));
		}
	}
	return true;
fail:
	free(l.p);
	return false;
}

static bool stage_body(struct ctx *c, bool full)
{
	int who = default_who(c->rt);
	char paths[64][128];
	int np = 0;
	char *seed = seed_body(c->rt, who);
	json_object *root = json_tokener_parse(seed);
	bool ok = true;

	if (strcmp(c->rt->body, "json") != 0) {
		/* A body where none belongs, and for raw routes the type check on bytes. */
		if (strcmp(c->rt->body, "none") == 0)
			ok = emit_body(c, who, "application/json", "{}", 2, "{} on a route that takes no body");
		else
			ok = emit_body(c, who, "text/csv", "\xff\xfe,\n", 4, "non-UTF-8 CSV bytes") &&
			     emit_body(c, who, "image/png", "GIF89a", 6, "a GIF declared as PNG") &&
			     emit_body(c, who, "application/pdf", "", 0, "an empty PDF");
		free(seed);
		json_object_put(root);
		return ok;
	}
	if (root)
		paths_of(root, "", paths, &np, 64);
	/* Strings at their limits first: the cases that reach fixed buffers. */
	for (int i = 0; ok && i < np; i++) {
		json_object *v = value_at(root, paths[i]);

		if (v && json_object_is_type(v, json_type_string))
			ok = string_cases(c, who, seed, paths[i], json_object_get_string(v), full);
	}
	for (int i = 0; ok && i < np; i++)
		ok = value_cases(c, who, seed, paths[i]);
	if (ok) {
		char *b = mutate(seed, "zzUnknown", json_object_new_string("x"), NULL);

		ok = emit_body(c, who, "application/json", b, strlen(b), "an unknown field");
		free(b);
	}
	if (ok)
		ok = body_shapes(c, who, seed, full);
	free(seed);
	json_object_put(root);
	return ok;
}

/* Random combinations of everything above, from the route's generator. */
static bool random_case(struct ctx *c)
{
	struct req q;
	int who = rng_below(&c->rng, 3) ? default_who(c->rt) : (int)rng_below(&c->rng, NP);
	int np = nparams(c->rt);
	char d[200];
	struct sb desc = {0};

	base_req(c, &q, who);
	if (np && rng_below(&c->rng, 3) == 0) {
		const char *vals[4] = {NULL, NULL, NULL, NULL};
		int i = (int)rng_below(&c->rng, (unsigned)np);

		vals[i] = odd_ids[rng_below(&c->rng, sizeof(odd_ids) / sizeof(odd_ids[0]))];
		free(q.target);
		q.target = make_path(c->rt, rng_below(&c->rng, 4) ? 0 : 1, vals, np, (int)rng_below(&c->rng, 8));
		sb_printf(&desc, "{%d} = \"%s\"; ", i, vals[i]);
	} else if (np) {
		free(q.target);
		q.target = make_path(c->rt, rng_below(&c->rng, 5) ? 0 : 1, NULL, 0, (int)rng_below(&c->rng, SWEEP_IDS));
	}
	for (int n = (int)rng_below(&c->rng, 3); n > 0; n--) {
		const char *name = qnames[rng_below(&c->rng, sizeof(qnames) / sizeof(qnames[0]) - 1)];
		long len = (long)rng_below(&c->rng, 300);
		char *v = rng_below(&c->rng, 2) && qvalue(name, 0)
				  ? xstrdup(qvalue(name, (int)rng_below(&c->rng, 5)))
				  : pad_string("", (int)rng_below(&c->rng, 4) + 1, len, rng_below(&c->rng, 2));
		char *e = pct(v, strlen(v));
		struct sb qs = {0};

		sb_printf(&qs, "%s=%s", name, e);
		add_query(&q, qs.p);
		describe(d, sizeof(d), v, strlen(v));
		sb_printf(&desc, "%s=%s; ", name, d);
		free(qs.p);
		free(e);
		free(v);
	}
	if (q.has_body && strcmp(c->rt->body, "json") == 0 && rng_below(&c->rng, 4)) {
		char paths[64][128];
		int n = 0;
		json_object *root = json_tokener_parse(q.body);

		if (root)
			paths_of(root, "", paths, &n, 64);
		json_object_put(root);
		for (int k = (int)rng_below(&c->rng, 3) + 1; n && k > 0; k--) {
			const char *path = paths[rng_below(&c->rng, (unsigned)n)];
			char *b;

			if (rng_below(&c->rng, 2)) {
				int w = (int)rng_below(&c->rng, 4) + 1;
				long len = (long)rng_below(&c->rng, 2) ? (long)rng_below(&c->rng, 300)
								       : (long)rng_below(&c->rng, 5000);
				char *v = pad_string("", w, len, rng_below(&c->rng, 2));

				b = mutate(q.body, path, json_object_new_string(v), NULL);
				describe(d, sizeof(d), v, strlen(v));
				sb_printf(&desc, "body %s = %s; ", path, d);
				free(v);
			} else {
				static const char *const raws[] = {"null", "-1", "0",	 "1e309", "9223372036854775808",
								   "[]",   "{}", "true", "\"\"",  "\"\\u0000\""};
				const char *raw = raws[rng_below(&c->rng, sizeof(raws) / sizeof(raws[0]))];

				b = mutate(q.body, path, NULL, raw);
				sb_printf(&desc, "body %s = %s; ", path, raw);
			}
			req_body(&q, q.ctype, b, strlen(b));
			free(b);
		}
	}
	set_desc(&q, "random: %s", desc.p ? desc.p : "the seed request");
	free(desc.p);
	return emit(c, &q);
}

/* ---- callers: set-up and repair ---- */

static struct resp *call(int who, const char *method, const char *path, const char *json)
{
	char *headers[2], auth[4200];
	int nh = 0;
	struct sb url = {0};
	struct resp *r;

	if (who != P_NOTOKEN) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", G.p[who].u.id_token);
		headers[nh++] = auth;
	}
	if (json)
		headers[nh++] = "Content-Type: application/json";
	sb_puts(&url, G.cur->base);
	sb_puts(&url, path);
	r = send_raw(method, url.p, headers, nh, json, json ? strlen(json) : 0, json != NULL);
	free(url.p);
	atomic_fetch_add(&G.requests, 1);
	return r;
}

/* A new user who owns a new organization, as caller who (owner of org 0 or 1). */
static int make_org(int who, int org)
{
	struct test_user u;
	struct resp *r;
	struct sb url = {0};
	char auth[4200];
	char *headers[2] = {auth, "Content-Type: application/json"};

	if (test_user_signup(&u, pname[who]) < 0)
		return -1;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", u.id_token);
	sb_puts(&url, G.cur->base);
	sb_puts(&url, "/v1/organizations");
	r = send_raw("POST", url.p, headers, 2, seeds[0][1], strlen(seeds[0][1]), true);
	free(url.p);
	if (r->status != 201 || !jstr(r->json, "id")) {
		fprintf(stderr, "routefuzz: could not create an organization: %ld %s\n", r->status, r->body);
		resp_free(r);
		return -1;
	}
	if (test_user_refresh(&u) < 0) {
		resp_free(r);
		return -1;
	}
	pthread_mutex_lock(&G.ids_mu);
	snprintf(G.org_id[org], sizeof(G.org_id[0]), "%s", jstr(r->json, "id"));
	G.p[who].u = u;
	G.p[who].org = org;
	pthread_mutex_unlock(&G.ids_mu);
	pool_add("organizations", org, jstr(r->json, "id"), -1, NULL);
	resp_free(r);
	return 0;
}

static int add_member(int who)
{
	struct test_user u;
	struct sb b = {0};
	struct resp *r;
	int rc;

	if (test_user_signup(&u, pname[who]) < 0)
		return -1;
	sb_printf(&b, "{\"email\":\"%s\",\"role\":\"%s\"}", u.email, prole[who]);
	r = call(P_OWNER, "POST", "/v1/users", b.p);
	free(b.p);
	rc = r->status == 201 ? 0 : -1;
	if (rc < 0)
		fprintf(stderr, "routefuzz: could not add the %s: %ld %s\n", pname[who], r->status, r->body);
	resp_free(r);
	if (rc == 0 && test_user_refresh(&u) == 0) {
		pthread_mutex_lock(&G.ids_mu);
		G.p[who].u = u;
		G.p[who].org = 0;
		pthread_mutex_unlock(&G.ids_mu);
		return 0;
	}
	return -1;
}

/* Runs the seed requests of every create and custom method once for org's owner, twice (ids they need). */
static void seed_resources(int owner)
{
	struct ctx c;

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < G.nroutes; i++) {
			struct route *rt = &G.routes[i];
			struct req q;

			if (rt->phase > 1 || strcmp(rt->access, "member") != 0 || strcmp(rt->group, "jobs") == 0)
				continue;
			memset(&c, 0, sizeof(c));
			c.rt = rt;
			c.budget = -1;
			c.thread = 15;
			base_req(&c, &q, owner);
			set_desc(&q, "set-up: the seed request");
			emit(&c, &q);
		}
	/* A ready product image, for images routes. */
	{
		static const char png[] = "\x89PNG\r\n\x1a\n0123456789abcdef";
		struct req q;
		struct route *files = NULL;

		for (int i = 0; i < G.nroutes; i++)
			if (strcmp(G.routes[i].body, "raw") == 0)
				files = &G.routes[i];
		if (files) {
			memset(&c, 0, sizeof(c));
			c.rt = files;
			c.budget = -1;
			c.thread = 15;
			base_req(&c, &q, owner);
			req_body(&q, "image/png", png, sizeof(png) - 1);
			free(q.target);
			q.target = xstrdup("/v1/files?kind=product_image");
			set_desc(&q, "set-up: a product image");
			emit(&c, &q);
		}
	}
}

static int setup(void)
{
	for (int i = 0; i < NP; i++)
		G.p[i].org = -1;
	for (size_t i = 0; i < sizeof(pvalues) / sizeof(pvalues[0]); i++)
		for (int k = 1; k < 5 && pvalues[i][k]; k++) {
			pool_add(pvalues[i][0], 0, pvalues[i][k], -1, NULL);
			pool_add(pvalues[i][0], 1, pvalues[i][k], -1, NULL);
		}
	if (make_org(P_OWNER, 0) < 0 || make_org(P_OTHER, 1) < 0)
		return -1;
	for (int w = P_ADMIN; w <= P_VIEWER; w++)
		if (add_member(w) < 0)
			return -1;
	if (test_user_signup(&G.p[P_NOORG].u, "noorg") < 0)
		return -1;
	/* Two members nobody signs in as: targets for the member routes. */
	for (int i = 0; i < 2; i++) {
		struct test_user u;
		struct sb b = {0};
		struct resp *r;

		if (test_user_signup(&u, "victim") < 0)
			return -1;
		sb_printf(&b, "{\"email\":\"%s\",\"role\":\"staff\"}", u.email);
		r = call(P_OWNER, "POST", "/v1/users", b.p);
		if (jstr(r->json, "id"))
			pool_add("users", 0, jstr(r->json, "id"), -1, NULL);
		resp_free(r);
		free(b.p);
	}
	{
		struct test_user u;
		struct sb b = {0};
		struct resp *r;

		if (test_user_signup(&u, "victimb") < 0)
			return -1;
		sb_printf(&b, "{\"email\":\"%s\",\"role\":\"staff\"}", u.email);
		r = call(P_OTHER, "POST", "/v1/users", b.p);
		if (jstr(r->json, "id"))
			pool_add("users", 1, jstr(r->json, "id"), -1, NULL);
		resp_free(r);
		free(b.p);
	}
	seed_resources(P_OWNER);
	seed_resources(P_OTHER);
	return 0;
}

/* Checks every caller still is who it was; makes a new one in its place otherwise. */
static void repair_callers(void)
{
	static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&one);
	for (int w = 0; w < NP; w++) {
		struct resp *r;
		const char *org, *role;
		bool ok;

		if (w == P_NOTOKEN)
			continue;
		r = call(w, "GET", "/v1/users/me", NULL);
		org = jstr(r->json, "organizationId");
		role = jstr(r->json, "role");
		if (w == P_NOORG)
			ok = r->status == 200 && !org;
		else
			ok = r->status == 200 && org && strcmp(org, G.org_id[G.p[w].org]) == 0 && role &&
			     strcmp(role, prole[w]) == 0;
		resp_free(r);
		if (ok)
			continue;
		say("routefuzz: the %s caller changed (the fuzzer's own requests did it): making a new one\n",
		    pname[w]);
		if (w == P_NOORG) {
			struct test_user u;

			if (test_user_signup(&u, "noorg") == 0) {
				pthread_mutex_lock(&G.ids_mu);
				G.p[w].u = u;
				pthread_mutex_unlock(&G.ids_mu);
			}
		} else if (w == P_OWNER || w == P_OTHER) {
			if (make_org(w, w == P_OWNER ? 0 : 1) < 0)
				continue;
			if (w == P_OWNER)
				for (int m = P_ADMIN; m <= P_VIEWER; m++)
					add_member(m);
			seed_resources(w);
		} else {
			add_member(w);
		}
	}
	pthread_mutex_unlock(&one);
}

static void refresh_callers(void)
{
	for (int w = 0; w < NP; w++)
		if (w != P_NOTOKEN && G.p[w].u.refresh_token[0]) {
			struct test_user u = G.p[w].u;

			if (test_user_refresh(&u) == 0) {
				pthread_mutex_lock(&G.ids_mu);
				G.p[w].u = u;
				pthread_mutex_unlock(&G.ids_mu);
			}
		}
}

/* ---- the scheduler ---- */

struct worker_arg {
	int thread;
	int target;
	int round;
	atomic_int *next;
	int *order;
	int norder;
};

static void fuzz_route(struct route *rt, int thread, int target, int round)
{
	struct ctx c;
	long start = rt->sent;
	bool full = G.o->seconds > 0;

	memset(&c, 0, sizeof(c));
	c.rt = rt;
	c.thread = thread;
	c.round = round;
	c.rng.s = G.o->seed ^ hash_str((uint64_t)(round * 2 + target) * 0x9e3779b97f4a7c15ull, rt->method) ^
		  hash_str(0, rt->pattern);
	/*
	 * Round 0 is the brief sweep (every route soon, as in make check); in the long mode round 1 is
	 * the full sweep (every default limit and shape), capped so that one route cannot hold the
	 * round; later rounds are random combinations.
	 */
	full = full && round == 1;
	c.budget = full ? 8L * G.o->budget : G.o->budget;
	if (round <= 1 && (round == 0 || full)) {
		/* The structured sweep; in the brief mode each stage stops where the budget ends. */
		bool ok = stage_roles(&c);

		if (ok && strcmp(rt->body, "none") != 0)
			ok = stage_body(&c, full);
		if (ok)
			ok = stage_paths(&c);
		if (ok)
			ok = stage_query(&c, full);
		if (ok)
			ok = stage_headers(&c, full);
		if (ok && strcmp(rt->body, "none") == 0)
			ok = stage_body(&c, full);
		if (full && c.budget > G.o->budget)
			c.budget = G.o->budget;
	}
	while (random_case(&c))
		;
	if (c.wrote && strcmp(rt->access, "public") != 0)
		repair_callers();
	say("routefuzz: round %d%s %-6s %-40s %5ld requests, %ld findings so far\n", round, target ? "p" : " ",
	    rt->method, rt->pattern, rt->sent - start, rt->found);
}

static void *client(void *arg)
{
	struct worker_arg *a = arg;

	for (;;) {
		int i = atomic_fetch_add(a->next, 1);
		struct route *rt;

		if (i >= a->norder || atomic_load(&G.stop))
			break;
		rt = &G.routes[a->order[i]];
		pthread_mutex_lock(&rt->mu);
		fuzz_route(rt, a->thread, a->target, a->round);
		pthread_mutex_unlock(&rt->mu);
	}
	return NULL;
}

void rf_options_from_env(struct rf_options *o)
{
	const char *v;
	static char out[512];

	memset(o, 0, sizeof(*o));
	o->seed = (v = getenv("FLUXORI_ROUTEFUZZ_SEED")) && *v ? strtoull(v, NULL, 10) : 20261202;
	o->seconds = (v = getenv("FLUXORI_ROUTEFUZZ_SECONDS")) && *v ? strtol(v, NULL, 10) : 0;
	o->budget = (v = getenv("FLUXORI_ROUTEFUZZ_BUDGET")) && *v ? (int)strtol(v, NULL, 10) : 150;
	o->jobs = (v = getenv("FLUXORI_ROUTEFUZZ_JOBS")) && *v ? (int)strtol(v, NULL, 10) : 3;
	if (o->jobs < 1 || o->jobs > 14)
		o->jobs = 3;
	if (o->budget < 1)
		o->budget = 1;
	o->prod_storage = !((v = getenv("FLUXORI_ROUTEFUZZ_PROD_STORAGE")) && strcmp(v, "0") == 0);
	o->bin_dir = getenv("FLUXORI_BIN_DIR");
	if ((v = getenv("FLUXORI_SRCDIR")) && *v) {
		static char openapi[600];

		snprintf(openapi, sizeof(openapi), "%s/docs/openapi.yaml", v);
		o->openapi = openapi;
	}
	o->run_dir = getenv("FLUXORI_TEST_RUN");
	if ((v = getenv("FLUXORI_ROUTEFUZZ_OUT")) && *v)
		snprintf(out, sizeof(out), "%s", v);
	else
		snprintf(out, sizeof(out), "/tmp/fluxori-routefuzz.%d", (int)getuid());
	o->out_dir = out;
}

/* log_path=DIR/PREFIX of ASAN_OPTIONS (how scripts/memcheck collects every worker's report). */
static void asan_path(void)
{
	const char *o = getenv("ASAN_OPTIONS"), *p = o ? strstr(o, "log_path=") : NULL;
	char path[512], *slash;

	if (!p)
		return;
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(p + 9, ":"), p + 9);
	slash = strrchr(path, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(G.asan_dir, sizeof(G.asan_dir), "%s", path);
	snprintf(G.asan_prefix, sizeof(G.asan_prefix), "%s.", slash + 1);
}

/* Events still pending when a pass ends are findings of their own (no request claimed them). */
static void flush_pending(void)
{
	char *events;

	usleep(500 * 1000);
	events = monitor(false);
	if (*events)
		sb_puts(&G.pending, events);
	free(events);
	if (!G.pending.p)
		return;
	events = sb_take(&G.pending);
	atomic_fetch_add(&G.findings, 1);
	pthread_mutex_lock(&G.out_mu);
	if (G.nkinds < (int)(sizeof(G.kinds) / sizeof(G.kinds[0]))) {
		snprintf(G.kinds[G.nkinds].key, sizeof(G.kinds[0].key), "%s: events at the end of a pass", G.cur->name);
		G.kinds[G.nkinds++].count = 1;
	}
	pthread_mutex_unlock(&G.out_mu);
	say("\nroutefuzz: FINDING [events no request claimed] at the end of the pass against %s\n%s\n", G.cur->name,
	    events);
	free(events);
}

/*
 * The production-storage instance: an API instance without the Storage
 * emulator, signing V4 URLs as on Google, against the fake Cloud Storage.
 * The emulator path refuses upload types the production path accepts (an
 * upload session checks them), so without it those inputs never reach the
 * handlers that read them back.
 */
static int start_prod_storage(struct instance *in, struct fakegcs **gcs)
{
	const char *bucket = test_env("FLUXORI_BUCKET");
	struct sb extra = {0};
	struct target *t = &G.tg[G.ntg];

	*gcs = fakegcs_start(bucket ? bucket : "demo-fluxori.appspot.com");
	if (!*gcs)
		return -1;
	sb_printf(&extra, "STORAGE_EMULATOR_HOST=\nFLUXORI_STORAGE_URL=%s\nFLUXORI_TOKEN_URL=%s/token\n",
		  fakegcs_url(*gcs), fakegcs_url(*gcs));
	instance_start(in, extra.p);
	free(extra.p);
	snprintf(t->name, sizeof(t->name), "the production-storage instance");
	snprintf(t->base, sizeof(t->base), "%s", in->base);
	snprintf(t->state_dir, sizeof(t->state_dir), "%s/state", in->run);
	snprintf(t->logs[0], sizeof(t->logs[0]), "%s/api.log", in->run); /* nginx and workers alike */
	G.ntg++;
	return 0;
}

int rf_run(const struct rf_options *o, struct rf_result *res)
{
	double t0 = now_s(), last_refresh = t0;
	pthread_t th[16];
	struct worker_arg args[16];
	char logpath[600];
	struct instance inst = {0};
	struct fakegcs *gcs = NULL;

	memset(res, 0, sizeof(*res));
	G.o = o;
	pthread_mutex_init(&G.ids_mu, NULL);
	pthread_mutex_init(&G.out_mu, NULL);
	pthread_mutex_init(&G.mon_mu, NULL);
	{
		pthread_rwlockattr_t a;

		/* A request waiting to be sent alone must not wait for the others to run out of work. */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&G.excl, &a);
		pthread_rwlockattr_destroy(&a);
	}
	G.cur = &G.tg[0];
	G.ntg = 1;
	snprintf(G.cur->name, sizeof(G.cur->name), "the harness's stack");
	snprintf(G.cur->base, sizeof(G.cur->base), "%s", test_url());
	if (!o->bin_dir || !o->run_dir) {
		fprintf(stderr,
			"routefuzz: FLUXORI_BIN_DIR and FLUXORI_TEST_RUN must be set (tests/integration/run)\n");
		return -1;
	}
	mkdir(o->out_dir, 0700);
	snprintf(logpath, sizeof(logpath), "%s/findings.log", o->out_dir);
	G.log = fopen(logpath, "w");
	if (getenv("FLUXORI_ROUTEFUZZ_TRACE") && strcmp(getenv("FLUXORI_ROUTEFUZZ_TRACE"), "1") == 0) {
		snprintf(logpath, sizeof(logpath), "%s/trace.log", o->out_dir);
		G.trace = fopen(logpath, "w");
	}
	snprintf(G.cur->state_dir, sizeof(G.cur->state_dir), "%s/state", o->run_dir);
	snprintf(G.cur->logs[0], sizeof(G.cur->logs[0]), "%s/nginx-error.log", o->run_dir);
	snprintf(G.cur->logs[1], sizeof(G.cur->logs[1]), "%s/workers.log", o->run_dir);
	asan_path();
	if (load_routes(o->bin_dir) < 0 || load_contract(o->openapi) < 0)
		return -1;
	say("routefuzz: seed %llu, %d routes from %s, %s, budget %d requests per route and round, %d clients\n",
	    (unsigned long long)o->seed, G.nroutes, o->bin_dir, o->seconds ? "long mode" : "brief mode (one round)",
	    o->budget, o->jobs);
	say("routefuzz: sanitizer reports %s, reproducer files in %s\n", G.asan_dir[0] ? G.asan_dir : "(not collected)",
	    o->out_dir);
	free(monitor(true));
	if (setup() < 0) {
		fprintf(stderr, "routefuzz: set-up failed\n");
		return -1;
	}
	if (o->prod_storage && start_prod_storage(&inst, &gcs) < 0) {
		fprintf(stderr, "routefuzz: the fake Cloud Storage did not start\n");
		return -1;
	}
	G.deadline = o->seconds > 0 ? t0 + (double)o->seconds : 0;
	for (int round = 0;; round++) {
		for (int target = 0; target < G.ntg; target++) {
			G.cur = &G.tg[target];
			free(monitor(true));
			pool_age();
			say("routefuzz: round %d against %s (%s)\n", round, G.cur->name, G.cur->base);
			for (int phase = 0; phase < 4; phase++) {
				int order[MAX_ROUTES], n = 0;
				atomic_int next = 0;

				for (int i = 0; i < G.nroutes; i++)
					if (G.routes[i].phase == phase)
						order[n++] = i;
				for (int t = 0; t < o->jobs; t++) {
					args[t] = (struct worker_arg){t, target, round, &next, order, n};
					pthread_create(&th[t], NULL, client, &args[t]);
				}
				for (int t = 0; t < o->jobs; t++)
					pthread_join(th[t], NULL);
			}
			flush_pending();
		}
		G.cur = &G.tg[0];
		if (!o->seconds || now_s() > G.deadline)
			break;
		if (now_s() - last_refresh > 1500) {
			refresh_callers();
			last_refresh = now_s();
		}
		say("routefuzz: round %d done: %ld requests, %ld findings, %.0f s\n", round,
		    (long)atomic_load(&G.requests), (long)atomic_load(&G.findings), now_s() - t0);
	}
	res->routes = G.nroutes;
	res->requests = atomic_load(&G.requests);
	res->findings = atomic_load(&G.findings);
	res->distinct = G.nkinds;
	res->seconds = now_s() - t0;
	say("\nroutefuzz: seed %llu: %ld routes, %ld requests in %.0f s, %ld findings (%ld distinct route/kind)\n",
	    (unsigned long long)o->seed, res->routes, res->requests, res->seconds, res->findings, res->distinct);
	for (int i = 0; i < G.nkinds; i++)
		say("routefuzz:   %4ld x %s\n", G.kinds[i].count, G.kinds[i].key);
	for (int i = 0; i < G.nroutes; i++)
		if (G.routes[i].sent == 0)
			say("routefuzz: route %s %s was not reached\n", G.routes[i].method, G.routes[i].pattern);
	for (int i = 0; i < G.nroutes; i++)
		json_object_put(G.routes[i].learned);
	for (int i = 0; i < G.npools; i++)
		for (int org = 0; org < 2; org++)
			for (int k = 0; k < G.pools[i].n[org]; k++) {
				free(G.pools[i].e[org][k].id);
				free(G.pools[i].e[org][k].made_by);
			}
	free(G.pending.p);
	if (G.ntg > 1) {
		if (G.trace) /* the instance's logs go with its run directory: keep a copy */
			test_sh("cp -r '%s' '%s/prod-storage-run' 2>/dev/null", inst.run, o->out_dir);
		instance_stop(&inst);
	}
	fakegcs_stop(gcs);
	if (G.log)
		fclose(G.log);
	if (G.trace)
		fclose(G.trace);
	return 0;
}
