#include "metrics.h"

#include "log.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x46584d33u /* layout version: change it with the struct */
#define MAX_ROUTES 48
#define ROUTE_NAME 96
#define GROUP_NAME 32
#define MAX_GROUPS 24
#define KEEP_EXITED 8 /* files of exited processes kept per group; older ones fold into one */

static const int statuses[] = {200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405, 408,
			       409, 412, 413, 415, 422, 429, 499, 500, 502, 503, 504};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1) /* the last counts any other status */

static const char *const bucket_names[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
					   "0.25",  "0.5",    "1",     "2.5",  "5",	"10"};
static const double bucket_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKET (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

/*
 * Backends: Google's services first, then the ones fx_egress calls (channels, merchants'
 * webhooks), then "other", where any other label goes. The process's totals (its last log
 * line) count calls to Google only: the egress services are left out.
 */
static const char *const services[] = {
	"firestore", "storage", "identitytoolkit", "oauth2",   "metadata", "iamcredentials", "google-keys",
	"vertex-ai", "shopify", "woocommerce",	   "takealot", "webhook",  "other"};
#define FIRST_EGRESS 8
#define NEGRESS 4
#define NSERVICE (sizeof(services) / sizeof(services[0]))

static const char *const outcomes[] = {"ok", "client_error", "server_error", "unreachable"};
#define NOUTCOME 4

static const char *const txn_outcomes[] = {"started", "retried", "gave_up"};

typedef _Atomic uint64_t counter;

struct histogram {
	counter bucket[NBUCKET]; /* not cumulative: the renderer sums */
	counter count;
	counter sum_ns;
};

struct route_counters {
	counter status[NSTATUS];
	struct histogram latency;
};

struct service_counters {
	counter outcome[NOUTCOME];
	counter retries;
	counter connects;
	struct histogram latency;
};

/*
 * One process's counters, as laid out in its file; or, with retired set,
 * the sums of exited processes of a group folded into GROUP.retired.metrics.
 */
struct mfile {
	uint32_t magic;
	uint32_t nroutes; /* a process: routes[nroutes] counts requests that matched no route;
			     retired: the number of named slots */
	char group[GROUP_NAME];
	int32_t pid;
	uint32_t retired;
	_Atomic uint32_t clean_exit;
	counter retired_exits, retired_crashes;
	char route[MAX_ROUTES + 1][ROUTE_NAME];
	struct route_counters routes[MAX_ROUTES + 1];
	struct service_counters service[NSERVICE];
	counter token_cache[2]; /* miss, hit */
	counter txn[3];
	_Atomic int64_t in_flight;
};

static struct mfile *self;
static int self_fd = -1;

static void add(counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void observe(struct histogram *h, double seconds)
{
	size_t i;

	for (i = 0; i < NBUCKET && seconds > bucket_bounds[i]; i++)
		;
	if (i < NBUCKET)
		add(&h->bucket[i], 1);
	add(&h->count, 1);
	add(&h->sum_ns, seconds > 0 ? (uint64_t)(seconds * 1e9) : 0);
}

static uint32_t slots(const struct mfile *m)
{
	return m->retired ? m->nroutes : m->nroutes + 1;
}

static uint64_t get(const counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void fold_histogram(struct histogram *into, const struct histogram *from)
{
	for (size_t i = 0; i < NBUCKET; i++)
		add(&into->bucket[i], get(&from->bucket[i]));
	add(&into->count, get(&from->count));
	add(&into->sum_ns, get(&from->sum_ns));
}

/* Adds the counters of an exited process (or another fold) to into, matching routes by name. */
static void fold(struct mfile *into, const struct mfile *from)
{
	for (uint32_t i = 0; i < slots(from) && i <= MAX_ROUTES; i++) {
		uint32_t j;

		for (j = 0; j < into->nroutes && strncmp(into->route[j], from->route[i], ROUTE_NAME) != 0; j++)
			;
		if (j == into->nroutes) {
			if (j > MAX_ROUTES)
				continue;
			FX_ARRAY_COPY(into->route[j], from->route[i]);
			into->route[j][ROUTE_NAME - 1] = '\0';
			into->nroutes++;
		}
		for (size_t s = 0; s < NSTATUS; s++)
			add(&into->routes[j].status[s], get(&from->routes[i].status[s]));
		fold_histogram(&into->routes[j].latency, &from->routes[i].latency);
	}
	for (size_t s = 0; s < NSERVICE; s++) {
		for (size_t o = 0; o < NOUTCOME; o++)
			add(&into->service[s].outcome[o], get(&from->service[s].outcome[o]));
		add(&into->service[s].retries, get(&from->service[s].retries));
		add(&into->service[s].connects, get(&from->service[s].connects));
		fold_histogram(&into->service[s].latency, &from->service[s].latency);
	}
	for (int i = 0; i < 2; i++)
		add(&into->token_cache[i], get(&from->token_cache[i]));
	for (int i = 0; i < 3; i++)
		add(&into->txn[i], get(&from->txn[i]));
	if (from->retired) {
		add(&into->retired_exits, get(&from->retired_exits));
		add(&into->retired_crashes, get(&from->retired_crashes));
	} else {
		add(atomic_load(&from->clean_exit) ? &into->retired_exits : &into->retired_crashes, 1);
	}
}

/* Maps a metrics file; NULL when it is not one. The caller munmaps and closes *fd. */
static struct mfile *map_file(int dirfd, const char *name, int flags, int *fd)
{
	struct stat st;
	struct mfile *m;

	*fd = openat(dirfd, name, flags | O_CLOEXEC, 0600);
	if (*fd < 0)
		return NULL;
	if ((flags & O_CREAT) && ftruncate(*fd, sizeof(*m)) < 0)
		goto fail;
	if (fstat(*fd, &st) < 0 || (size_t)st.st_size != sizeof(*m))
		goto fail;
	m = mmap(NULL, sizeof(*m), (flags & O_RDWR) ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, *fd, 0);
	if (m != MAP_FAILED)
		return m;
fail:
	close(*fd);
	*fd = -1;
	return NULL;
}

/* A process holds a shared lock on its file for as long as it runs. */
static bool is_live(int fd)
{
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return true;
	flock(fd, LOCK_UN);
	return false;
}

/* Takes the directory's .lock (LOCK_EX to fold, LOCK_SH to read); returns its fd or -1. */
static int lock_dir(const char *dir, int how)
{
	char path[PATH_MAX];
	int fd;

	if (fx_str_fmt(path, sizeof(path), "%s/.lock", dir) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, how) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/*
 * Folds the files of group's exited processes into GROUP.retired.metrics
 * once there are more than KEEP_EXITED of them, so a crash loop cannot
 * fill the (on Cloud Run, in-memory) disk. Runs under the directory's
 * .lock, which readers share: nobody sees a file both folded and not.
 */
static void retire(const char *dir, const char *group)
{
	char retired[GROUP_NAME + 32], names[64][NAME_MAX + 1];
	size_t glen = strlen(group), n = 0;
	struct mfile *into = NULL;
	struct dirent *d;
	DIR *dp;
	int lock, rfd = -1;

	lock = lock_dir(dir, LOCK_EX);
	if (lock < 0 || fx_str_fmt(retired, sizeof(retired), "%s.retired.metrics", group) < 0 || !(dp = opendir(dir))) {
		if (lock >= 0)
			close(lock);
		return;
	}
	while ((d = readdir(dp)) && n < sizeof(names) / sizeof(names[0])) {
		struct mfile *m;
		int fd;

		if (strncmp(d->d_name, group, glen) != 0 || d->d_name[glen] != '.' ||
		    !has_suffix(d->d_name, ".metrics") || strcmp(d->d_name, retired) == 0)
			continue;
		if ((m = map_file(dirfd(dp), d->d_name, O_RDONLY, &fd))) {
			if (m->magic == MAGIC && !is_live(fd) && fx_str_set(names[n], sizeof(names[0]), d->d_name) == 0)
				n++;
			munmap(m, sizeof(*m));
			close(fd);
		}
	}
	if (n > KEEP_EXITED && (into = map_file(dirfd(dp), retired, O_RDWR | O_CREAT, &rfd))) {
		if (into->magic != MAGIC) {
			memset(into, 0, sizeof(*into));
			/* fx_metrics_open refused longer group names before retiring anything. */
			if (fx_str_set(into->group, sizeof(into->group), group) < 0)
				into->group[0] = '\0';
			into->retired = 1;
			into->magic = MAGIC;
		}
		for (size_t i = 0; i < n; i++) {
			struct mfile *m;
			int fd;

			if (!(m = map_file(dirfd(dp), names[i], O_RDONLY, &fd)))
				continue;
			fold(into, m);
			munmap(m, sizeof(*m));
			close(fd);
			unlinkat(dirfd(dp), names[i], 0);
		}
		munmap(into, sizeof(*into));
		close(rfd);
	}
	closedir(dp);
	close(lock);
}

int fx_metrics_open(const char *dir, const char *group, const struct fx_route *routes, size_t nroutes, struct fx_err *e)
{
	struct mfile *m = NULL;
	char path[512];
	struct timespec ts;
	int fd = -1;
	bool bad;

	if (nroutes > MAX_ROUTES)
		return fx_err_set(e, FX_INTERNAL, "metrics: %zu routes, at most %d", nroutes, MAX_ROUTES);
	if (strlen(group) >= GROUP_NAME)
		return fx_err_set(e, FX_INTERNAL, "metrics: group name over %d bytes", GROUP_NAME - 1);
	if (dir && *dir) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (fx_str_fmt(path, sizeof(path), "%s/%s.%d.%lld%09ld.metrics", dir, group, (int)getpid(),
			       (long long)ts.tv_sec, ts.tv_nsec) < 0) {
			self = calloc(1, sizeof(*self));
			return fx_err_set(e, FX_INTERNAL, "metrics file name under %s over %zu bytes", dir,
					  sizeof(path) - 1);
		}
		mkdir(dir, 0700);
		retire(dir, group);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, sizeof(*m)) < 0 || flock(fd, LOCK_SH) < 0 ||
		    (m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
			int err = errno;

			if (fd >= 0) {
				unlink(path);
				close(fd);
			}
			/* Counting goes on in memory; only /metrics loses this process. */
			self = calloc(1, sizeof(*self));
			return fx_err_set(e, FX_INTERNAL, "metrics file %s: %s", path, strerror(err));
		}
	} else {
		m = calloc(1, sizeof(*m));
		if (!m)
			return fx_err_set(e, FX_INTERNAL, "out of memory");
	}
	bad = fx_str_set(m->group, sizeof(m->group), group) < 0;
	m->pid = (int32_t)getpid();
	m->nroutes = (uint32_t)nroutes;
	for (size_t i = 0; i < nroutes; i++)
		bad |= fx_str_fmt(m->route[i], ROUTE_NAME, "%s %s", routes[i].method, routes[i].pattern) < 0;
	bad |= fx_str_set(m->route[nroutes], ROUTE_NAME, "unmatched") < 0;
	if (bad) {
		/* Counting goes on; without MAGIC, readers skip the file rather than show cut names. */
		self = m;
		self_fd = fd;
		return fx_err_set(e, FX_INTERNAL, "metrics: a route name is over %d bytes", ROUTE_NAME - 1);
	}
	atomic_thread_fence(memory_order_release);
	m->magic = MAGIC; /* a reader skips the file until the header is complete */
	self = m;
	self_fd = fd;
	return 0;
}

void fx_metrics_close(void)
{
	if (self)
		atomic_store(&self->clean_exit, 1);
}

void fx_metrics_request(int route, int status, double seconds)
{
	struct route_counters *rc;
	size_t s;

	if (!self)
		return;
	rc = &self->routes[route >= 0 && (uint32_t)route < self->nroutes ? (uint32_t)route : self->nroutes];
	for (s = 0; s < NSTATUS - 1 && statuses[s] != status; s++)
		;
	add(&rc->status[s], 1);
	observe(&rc->latency, seconds);
}

void fx_metrics_in_flight(int delta)
{
	if (self)
		atomic_fetch_add_explicit(&self->in_flight, delta, memory_order_relaxed);
}

static struct service_counters *service_of(const char *name)
{
	size_t i;

	for (i = 0; i < NSERVICE - 1 && (!name || strcmp(services[i], name) != 0); i++)
		;
	return &self->service[i];
}

void fx_metrics_backend(const char *service, long status, long connects, double seconds)
{
	struct service_counters *sc;

	if (!self)
		return;
	sc = service_of(service);
	add(&sc->outcome[status == 0 ? 3 : status >= 500 ? 2 : status >= 400 ? 1 : 0], 1);
	if (connects > 0)
		add(&sc->connects, (uint64_t)connects);
	observe(&sc->latency, seconds);
}

void fx_metrics_backend_retry(const char *service)
{
	if (self)
		add(&service_of(service)->retries, 1);
}

void fx_metrics_token_cache(int hit)
{
	if (self)
		add(&self->token_cache[hit ? 1 : 0], 1);
}

void fx_metrics_transaction(enum fx_txn_event ev)
{
	if (self)
		add(&self->txn[ev], 1);
}

void fx_metrics_totals(struct fx_metrics_totals *out)
{
	memset(out, 0, sizeof(*out));
	if (!self)
		return;
	for (size_t s = 0; s < NSERVICE; s++) {
		if (s >= FIRST_EGRESS && s < FIRST_EGRESS + NEGRESS)
			continue;
		out->calls += get(&self->service[s].latency.count);
		out->retries += get(&self->service[s].retries);
		out->unreachable += get(&self->service[s].outcome[3]);
		out->connects += get(&self->service[s].connects);
	}
	for (int i = 0; i < 3; i++)
		out->txn[i] = get(&self->txn[i]);
}

/* ---- rendering ---- */

struct agg_route {
	char name[ROUTE_NAME];
	uint64_t status[NSTATUS];
	uint64_t bucket[NBUCKET], count, sum_ns;
};

struct agg_group {
	char name[GROUP_NAME];
	unsigned live, exited, crashed;
	int64_t in_flight;
	size_t nroutes;
	struct agg_route routes[MAX_ROUTES + 1];
	uint64_t outcome[NSERVICE][NOUTCOME], retries[NSERVICE], connects[NSERVICE];
	uint64_t sbucket[NSERVICE][NBUCKET], scount[NSERVICE], ssum_ns[NSERVICE];
	uint64_t token_cache[2], txn[3];
};

struct process {
	char group[GROUP_NAME];
	int pid;
	long rss;
};

struct agg {
	size_t ngroups, nprocs;
	struct agg_group groups[MAX_GROUPS];
	struct process procs[128];
};

static struct agg_group *group_of(struct agg *a, const char *name)
{
	for (size_t i = 0; i < a->ngroups; i++)
		if (strcmp(a->groups[i].name, name) == 0)
			return &a->groups[i];
	if (a->ngroups == MAX_GROUPS)
		return NULL;
	if (fx_str_set(a->groups[a->ngroups].name, GROUP_NAME, name) < 0)
		return NULL;
	return &a->groups[a->ngroups++];
}

/* Routes are matched by name: generations of one group may differ in their tables. */
static struct agg_route *route_of(struct agg_group *g, const char *name)
{
	for (size_t i = 0; i < g->nroutes; i++)
		if (strcmp(g->routes[i].name, name) == 0)
			return &g->routes[i];
	if (g->nroutes == MAX_ROUTES + 1)
		return NULL;
	if (fx_str_set(g->routes[g->nroutes].name, ROUTE_NAME, name) < 0)
		return NULL;
	return &g->routes[g->nroutes++];
}

static void add_hist(uint64_t *bucket, uint64_t *count, uint64_t *sum_ns, const struct histogram *h)
{
	for (size_t i = 0; i < NBUCKET; i++)
		bucket[i] += get(&h->bucket[i]);
	*count += get(&h->count);
	*sum_ns += get(&h->sum_ns);
}

static long resident_bytes(int pid)
{
	char path[64];
	long size = 0, rss = 0;
	FILE *f;

	if (fx_str_fmt(path, sizeof(path), "/proc/%d/statm", pid) < 0)
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

static void add_file(struct agg *a, const struct mfile *m, bool live)
{
	struct agg_group *g;
	char group[GROUP_NAME];

	FX_ARRAY_COPY(group, m->group);
	group[GROUP_NAME - 1] = '\0';
	if (!(g = group_of(a, group)))
		return;
	if (live) {
		g->live++;
		g->in_flight += atomic_load(&m->in_flight);
		if (a->nprocs < sizeof(a->procs) / sizeof(a->procs[0])) {
			struct process *p = &a->procs[a->nprocs++];

			FX_ARRAY_COPY(p->group, group);
			p->pid = m->pid;
			p->rss = resident_bytes(m->pid);
		}
	} else if (m->retired) {
		g->exited += get(&m->retired_exits);
		g->crashed += get(&m->retired_crashes);
	} else if (atomic_load(&m->clean_exit)) {
		g->exited++;
	} else {
		g->crashed++;
	}
	for (uint32_t i = 0; i < slots(m); i++) {
		char name[ROUTE_NAME];
		struct agg_route *r;

		FX_ARRAY_COPY(name, m->route[i]);
		name[ROUTE_NAME - 1] = '\0';
		if (!(r = route_of(g, name)))
			continue;
		for (size_t s = 0; s < NSTATUS; s++)
			r->status[s] += get(&m->routes[i].status[s]);
		add_hist(r->bucket, &r->count, &r->sum_ns, &m->routes[i].latency);
	}
	for (size_t s = 0; s < NSERVICE; s++) {
		for (size_t o = 0; o < NOUTCOME; o++)
			g->outcome[s][o] += get(&m->service[s].outcome[o]);
		g->retries[s] += get(&m->service[s].retries);
		g->connects[s] += get(&m->service[s].connects);
		add_hist(g->sbucket[s], &g->scount[s], &g->ssum_ns[s], &m->service[s].latency);
	}
	for (int i = 0; i < 2; i++)
		g->token_cache[i] += get(&m->token_cache[i]);
	for (int i = 0; i < 3; i++)
		g->txn[i] += get(&m->txn[i]);
}

static void read_file(struct agg *a, int dirfd, const char *name)
{
	struct mfile *m;
	int fd;

	if (!(m = map_file(dirfd, name, O_RDONLY, &fd)))
		return;
	if (m->magic == MAGIC && slots(m) <= MAX_ROUTES + 1)
		add_file(a, m, !m->retired && is_live(fd));
	munmap(m, sizeof(*m));
	close(fd);
}

/* The helpers below return -1 once out's cap is hit; render gives up on the whole text then. */
static int label_value(struct fx_buf *b, const char *s)
{
	int bad = 0;

	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			bad |= fx_buf_printf(b, "\\%c", *s) < 0;
		else if (*s == '\n')
			bad |= fx_buf_puts(b, "\\n") < 0;
		else
			bad |= fx_buf_append(b, s, 1) < 0;
	}
	return bad ? -1 : 0;
}

/* Sets lab to group="g"[,route="r"][,name="value"], escaped; NULL when over lab's cap. */
static const char *labels(struct fx_buf *lab, const char *group, const char *route, const char *name, const char *value)
{
	int bad;

	fx_buf_reset(lab);
	bad = fx_buf_puts(lab, "group=\"") < 0;
	bad |= label_value(lab, group) < 0;
	bad |= fx_buf_puts(lab, "\"") < 0;
	if (route) {
		bad |= fx_buf_puts(lab, ",route=\"") < 0;
		bad |= label_value(lab, route) < 0;
		bad |= fx_buf_puts(lab, "\"") < 0;
	}
	if (name) {
		bad |= fx_buf_printf(lab, ",%s=\"", name) < 0;
		bad |= label_value(lab, value) < 0;
		bad |= fx_buf_puts(lab, "\"") < 0;
	}
	return bad ? NULL : lab->data;
}

static int family(struct fx_buf *b, const char *name, const char *type, const char *help)
{
	return fx_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int sample(struct fx_buf *b, const char *name, const char *labs, unsigned long long v)
{
	return labs ? fx_buf_printf(b, "%s{%s} %llu\n", name, labs, v) : -1;
}

static int histogram(struct fx_buf *b, const char *name, const char *labs, const uint64_t *bucket, uint64_t count,
		     uint64_t sum_ns)
{
	uint64_t cum = 0;
	int bad = !labs;

	for (size_t i = 0; i < NBUCKET && !bad; i++) {
		cum += bucket[i];
		bad |= fx_buf_printf(b, "%s_bucket{%s,le=\"%s\"} %llu\n", name, labs, bucket_names[i],
				     (unsigned long long)cum) < 0;
	}
	if (bad)
		return -1;
	bad |= fx_buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labs, (unsigned long long)count) < 0;
	bad |= fx_buf_printf(b, "%s_sum{%s} %.6f\n", name, labs, (double)sum_ns / 1e9) < 0;
	bad |= fx_buf_printf(b, "%s_count{%s} %llu\n", name, labs, (unsigned long long)count) < 0;
	return bad ? -1 : 0;
}

/* Writes the exposition text into b; -1 when b's cap was hit (the text is then incomplete). */
static int render(const struct agg *a, struct fx_buf *b, struct fx_buf *lab)
{
	const struct agg_group *g;
	char code[8];
	int bad = 0;

	bad |= family(b, "fluxori_requests_total", "counter", "Requests answered, by group, route and status.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		for (size_t r = 0; r < g->nroutes; r++)
			for (size_t s = 0; s < NSTATUS; s++) {
				const char *status = "other";

				if (!g->routes[r].status[s])
					continue;
				if (s < NSTATUS - 1 && fx_str_fmt(code, sizeof(code), "%d", statuses[s]) == 0)
					status = code;
				bad |= sample(b, "fluxori_requests_total",
					      labels(lab, g->name, g->routes[r].name, "status", status),
					      g->routes[r].status[s]) < 0;
			}
	bad |= family(b, "fluxori_request_duration_seconds", "histogram",
		      "Time from accepting a request to its last byte, by group and route.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		for (size_t r = 0; r < g->nroutes; r++)
			if (g->routes[r].count)
				bad |= histogram(b, "fluxori_request_duration_seconds",
						 labels(lab, g->name, g->routes[r].name, NULL, NULL),
						 g->routes[r].bucket, g->routes[r].count, g->routes[r].sum_ns) < 0;
	bad |= family(b, "fluxori_requests_in_flight", "gauge", "Requests being served now.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++) {
		const char *labs = labels(lab, g->name, NULL, NULL, NULL);

		bad |= !labs ||
		       fx_buf_printf(b, "fluxori_requests_in_flight{%s} %lld\n", labs, (long long)g->in_flight) < 0;
	}
	bad |= family(b, "fluxori_backend_calls_total", "counter",
		      "HTTP attempts to Google services, by service and outcome (a retry counts again).") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		for (size_t s = 0; s < NSERVICE; s++)
			for (size_t o = 0; o < NOUTCOME; o++)
				if (g->outcome[s][o]) {
					bad |= !labels(lab, g->name, NULL, "service", services[s]);
					bad |= fx_buf_printf(b, "fluxori_backend_calls_total{%s,outcome=\"%s\"} %llu\n",
							     lab->data, outcomes[o],
							     (unsigned long long)g->outcome[s][o]) < 0;
				}
	bad |= family(b, "fluxori_backend_call_duration_seconds", "histogram",
		      "Duration of one HTTP attempt to a Google service.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		for (size_t s = 0; s < NSERVICE; s++)
			if (g->scount[s])
				bad |= histogram(b, "fluxori_backend_call_duration_seconds",
						 labels(lab, g->name, NULL, "service", services[s]), g->sbucket[s],
						 g->scount[s], g->ssum_ns[s]) < 0;
	bad |= family(b, "fluxori_backend_retries_total", "counter",
		      "Calls to Google repeated after a retryable failure.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		for (size_t s = 0; s < NSERVICE; s++)
			if (g->scount[s])
				bad |= sample(b, "fluxori_backend_retries_total",
					      labels(lab, g->name, NULL, "service", services[s]), g->retries[s]) < 0;
	bad |= family(b, "fluxori_backend_connections_total", "counter",
		      "New connections opened to a service (TCP, and TLS handshakes to Google): flat once warm.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		for (size_t s = 0; s < NSERVICE; s++)
			if (g->scount[s])
				bad |= sample(b, "fluxori_backend_connections_total",
					      labels(lab, g->name, NULL, "service", services[s]), g->connects[s]) < 0;
	bad |= family(b, "fluxori_token_cache_total", "counter", "Verified-token cache lookups, by result.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++) {
		bad |= sample(b, "fluxori_token_cache_total", labels(lab, g->name, NULL, "result", "hit"),
			      g->token_cache[1]) < 0;
		bad |= sample(b, "fluxori_token_cache_total", labels(lab, g->name, NULL, "result", "miss"),
			      g->token_cache[0]) < 0;
	}
	bad |= family(b, "fluxori_firestore_transactions_total", "counter",
		      "Firestore transactions started, attempts retried after ABORTED, and transactions given up.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		for (int i = 0; i < 3; i++)
			if (g->txn[i])
				bad |= sample(b, "fluxori_firestore_transactions_total",
					      labels(lab, g->name, NULL, "outcome", txn_outcomes[i]), g->txn[i]) < 0;
	bad |= family(b, "fluxori_worker_processes", "gauge", "Worker processes running now.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		bad |= sample(b, "fluxori_worker_processes", labels(lab, g->name, NULL, NULL, NULL), g->live) < 0;
	bad |= family(b, "fluxori_worker_restarts_total", "counter",
		      "Worker processes that died without draining (crash, SIGKILL); their supervisor restarted "
		      "them.") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		bad |= sample(b, "fluxori_worker_restarts_total", labels(lab, g->name, NULL, NULL, NULL), g->crashed) <
		       0;
	bad |= family(b, "fluxori_worker_exits_total", "counter",
		      "Worker processes that drained and exited (swaps, shutdowns).") < 0;
	for (g = a->groups; g < a->groups + a->ngroups; g++)
		bad |= sample(b, "fluxori_worker_exits_total", labels(lab, g->name, NULL, NULL, NULL), g->exited) < 0;
	bad |= family(b, "fluxori_worker_resident_bytes", "gauge", "Resident memory of each running worker process.") <
	       0;
	for (size_t i = 0; i < a->nprocs; i++)
		if (a->procs[i].rss >= 0) {
			char pid[16];

			if (fx_str_fmt(pid, sizeof(pid), "%d", a->procs[i].pid) < 0)
				continue;
			bad |= sample(b, "fluxori_worker_resident_bytes",
				      labels(lab, a->procs[i].group, NULL, "pid", pid),
				      (unsigned long long)a->procs[i].rss) < 0;
		}
	return bad ? -1 : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct agg_group *)a)->name, ((const struct agg_group *)b)->name);
}

int fx_metrics_render(const char *dir, struct fx_buf *out, struct fx_err *e)
{
	struct fx_buf lab;
	struct agg *a;
	struct dirent *d;
	DIR *dp;
	int lock, bad;

	if (!dir || !*dir)
		return fx_err_set(e, FX_UNAVAILABLE, "metrics are off: FLUXORI_METRICS_DIR is not set");
	lock = lock_dir(dir, LOCK_SH);
	dp = opendir(dir);
	a = calloc(1, sizeof(*a));
	if (!dp || !a || lock < 0) {
		int err = errno;

		if (dp)
			closedir(dp);
		if (lock >= 0)
			close(lock);
		free(a);
		return fx_err_set(e, FX_UNAVAILABLE, "metrics directory %s: %s", dir, strerror(err));
	}
	while ((d = readdir(dp)))
		if (has_suffix(d->d_name, ".metrics"))
			read_file(a, dirfd(dp), d->d_name);
	closedir(dp);
	close(lock);
	qsort(a->groups, a->ngroups, sizeof(a->groups[0]), by_name);
	fx_buf_init(&lab, 1024);
	bad = render(a, out, &lab) < 0;
	fx_buf_cleanup(&lab);
	free(a);
	return bad ? fx_err_set(e, FX_INTERNAL, "metrics text over %zu bytes", out->max) : 0;
}
