#include "keylock.h"

#include "clock.h"
#include "config.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STRIPES 256
#define MAGIC 0x464b4c31u

/*
 * The stripes live in FLUXORI_METRICS_DIR/keylock, mapped shared by every
 * worker process of the container (each group runs as several processes),
 * as robust process-shared mutexes: a holder that dies frees its stripe
 * for the next caller. Without that directory they are this process's own.
 */
struct table {
	uint32_t magic;
	pthread_mutex_t stripes[STRIPES];
	/* Per stripe, under its mutex: the key whose work last failed for want of a backend, and when. */
	struct {
		uint64_t key;
		int64_t at_ms; /* CLOCK_MONOTONIC: one clock for every process of the machine */
	} outage[STRIPES];
};

static struct table local, *table = &local;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Thread_local int64_t waited_since; /* when this thread last asked for a lock */

static void init_stripes(struct table *t, int pshared)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, pshared);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&t->stripes[i], &a);
	pthread_mutexattr_destroy(&a);
	t->magic = MAGIC;
}

/* Maps the shared table, initialising it once under an flock; NULL when it cannot. */
static struct table *map_shared(const char *dir)
{
	char path[512];
	struct table *t = NULL;
	struct stat st;
	int fd;

	if (fx_str_fmt(path, sizeof(path), "%s/keylock", dir) < 0)
		return NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		goto out;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size != sizeof(*t) && ftruncate(fd, sizeof(*t)) < 0)
		goto out;
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (t == MAP_FAILED) {
		t = NULL;
		goto out;
	}
	if (t->magic != MAGIC)
		init_stripes(t, PTHREAD_PROCESS_SHARED);
out:
	if (fd >= 0) {
		flock(fd, LOCK_UN); /* explicitly: the mapping keeps the open file, and with it the flock */
		close(fd);
	}
	return t;
}

static void init(void)
{
	const struct fx_config *c = fx_config_get();
	struct table *t = NULL;

	init_stripes(&local, PTHREAD_PROCESS_PRIVATE);
	if (c && c->metrics_dir && *c->metrics_dir && !(t = map_shared(c->metrics_dir)))
		fx_log_warn("%s/keylock: key locks serialise within this process only", c->metrics_dir);
	if (t)
		table = t;
}

static uint64_t hash(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static pthread_mutex_t *stripe(const char *key)
{
	pthread_once(&once, init);
	return &table->stripes[hash(key) % STRIPES];
}

/* A stripe whose holder died is ours now: the lock only queues work, Firestore keeps the data whole. */
static int taken(pthread_mutex_t *m, int rc)
{
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		return 0;
	}
	return rc == 0 ? 0 : -1;
}

void fx_keylock(const char *key)
{
	pthread_mutex_t *m = stripe(key);

	int rc;

	waited_since = fx_clock_ms();
	rc = pthread_mutex_trylock(m);
	if (rc == EBUSY)
		rc = pthread_mutex_lock(m);
	taken(m, rc);
}

void fx_keylock_release(const char *key)
{
	pthread_mutex_unlock(stripe(key));
}

int fx_keylock_timed(const char *key, long ms)
{
	pthread_mutex_t *m = stripe(key);
	struct timespec deadline;

	waited_since = fx_clock_ms();
	int rc;

	fx_clock_deadline(ms, &deadline);
	rc = pthread_mutex_trylock(m);
	if (rc == EBUSY)
		rc = pthread_mutex_timedlock(m, &deadline);
	return taken(m, rc);
}

int fx_keylock_outage(const char *key, struct fx_err *e)
{
	uint64_t h = hash(key);
	size_t s = h % STRIPES;

	pthread_once(&once, init);
	if (table->outage[s].key != h || table->outage[s].at_ms < waited_since)
		return 0;
	fx_err_set(e, FX_UNAVAILABLE, "a backend was unavailable to the request before this one: retry");
	e->retry_after = FX_ERR_RETRY_AFTER_S;
	return -1;
}

void fx_keylock_release_after(const char *key, const struct fx_err *failed)
{
	uint64_t h = hash(key);
	size_t s = h % STRIPES;

	pthread_once(&once, init);
	if (failed && fx_err_is(failed, FX_UNAVAILABLE)) {
		table->outage[s].key = h;
		table->outage[s].at_ms = fx_clock_ms();
	} else if (!failed && table->outage[s].key == h) {
		table->outage[s].key = 0;
	}
	pthread_mutex_unlock(&table->stripes[s]);
}
