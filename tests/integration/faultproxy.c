#include "faultproxy.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define TICK_MS 20 /* how soon a connection or the listener notices a new mode */

struct faultproxy {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int lfd; /* the listener; -1 while FP_DROP has it closed (owned by the acceptor) */
	int port, upstream;
	_Atomic int mode, slow_ms;
	unsigned long gen, applied; /* mode changes asked for / applied by the acceptor */
	bool listen_ok;
	char needle[256]; /* the armed trigger (under lock) */
	int armed_mode;
	atomic_bool armed;
	atomic_int fired;
	atomic_long accepted;
	atomic_int held, active;
	atomic_bool stopping;
	pthread_t acceptor;
};

struct conn {
	struct faultproxy *p;
	int c, u; /* client and upstream sockets */
	char *pend; /* bytes read from the client, not forwarded yet */
	size_t npend;
	bool held;
};

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Closes with a reset (RST) instead of an orderly FIN. */
static void rst(int fd)
{
	struct linger l = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static int listen_on(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 512) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_upstream(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void set_mode_locked(struct faultproxy *p, enum fp_mode mode)
{
	atomic_store(&p->mode, (int)mode);
	p->gen++;
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void set_held(struct conn *k, bool held)
{
	if (held != k->held) {
		atomic_fetch_add(&k->p->held, held ? 1 : -1);
		k->held = held;
	}
}

/* A chunk from the client: fires an armed trigger it matches; 1 when it did. */
static int check_trigger(struct faultproxy *p, const char *b, size_t n)
{
	int fired = 0;

	if (!atomic_load(&p->armed))
		return 0;
	pthread_mutex_lock(&p->lock);
	if (atomic_load(&p->armed) && memmem(b, n, p->needle, strlen(p->needle))) {
		atomic_store(&p->armed, false);
		atomic_store(&p->fired, 1);
		set_mode_locked(p, (enum fp_mode)p->armed_mode);
		fired = 1;
	}
	pthread_mutex_unlock(&p->lock);
	return fired;
}

/* Forwards what is pending from the client, held slow_ms first in FP_SLOW; -1 when the upstream is gone. */
static int flush_pending(struct conn *k, enum fp_mode mode)
{
	if (!k->npend)
		return 0;
	if (mode == FP_SLOW)
		nap_ms(atomic_load(&k->p->slow_ms));
	if (write_all(k->u, k->pend, k->npend) < 0)
		return -1;
	k->npend = 0;
	return 0;
}

static void *relay(void *arg)
{
	struct conn *k = arg;
	struct faultproxy *p = k->p;
	char *buf = malloc(CHUNK);

	for (;;) {
		enum fp_mode mode = (enum fp_mode)atomic_load(&p->mode);
		struct pollfd fds[2] = {{k->c, 0, 0}, {k->u, 0, 0}};

		if (atomic_load(&p->stopping) || mode == FP_DROP) {
			close(k->c);
			close(k->u);
			break;
		}
		if (mode == FP_RESET) {
			rst(k->c);
			rst(k->u);
			break;
		}
		if (mode == FP_STALL) {
			int waiting = 0;

			/* Nothing moves; a request is held when its bytes wait here or in the socket. */
			if (ioctl(k->c, FIONREAD, &waiting) < 0)
				waiting = 0;
			set_held(k, k->npend > 0 || waiting > 0);
			fds[0].events = fds[1].events = POLLRDHUP;
			if (poll(fds, 2, TICK_MS) > 0 &&
			    ((fds[0].revents | fds[1].revents) & (POLLRDHUP | POLLHUP | POLLERR))) {
				close(k->c);
				close(k->u);
				break;
			}
			continue;
		}
		set_held(k, false);
		if (flush_pending(k, mode) < 0) {
			rst(k->c);
			close(k->u);
			break;
		}
		fds[0].events = POLLIN;
		/* Answers lost: the upstream is only watched for hanging up. */
		fds[1].events = mode == FP_LOSE_ANSWERS ? POLLRDHUP : POLLIN;
		if (poll(fds, 2, TICK_MS) <= 0)
			continue;
		if (mode == FP_LOSE_ANSWERS && (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			close(k->c);
			close(k->u);
			break;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(k->c, buf, CHUNK, 0);
			if (n <= 0) {
				close(k->c);
				close(k->u);
				break;
			}
			memcpy(k->pend, buf, (size_t)n);
			k->npend = (size_t)n;
			/* A trigger acts before its chunk goes anywhere: the next turn applies the new mode. */
			if (check_trigger(p, buf, (size_t)n))
				continue;
			if (flush_pending(k, (enum fp_mode)atomic_load(&p->mode)) < 0) {
				rst(k->c);
				close(k->u);
				break;
			}
		}
		if (mode != FP_LOSE_ANSWERS && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = recv(k->u, buf, CHUNK, 0);

			if (n <= 0) {
				close(k->c);
				close(k->u);
				break;
			}
			if (atomic_load(&p->mode) == FP_SLOW)
				nap_ms(atomic_load(&p->slow_ms));
			if (write_all(k->c, buf, (size_t)n) < 0) {
				close(k->c);
				rst(k->u);
				break;
			}
		}
	}
	set_held(k, false);
	free(buf);
	free(k->pend);
	free(k);
	atomic_fetch_sub(&p->active, 1);
	return NULL;
}

/* Applies mode changes to the listener: closed in FP_DROP, listening again after. Under lock. */
static void apply_locked(struct faultproxy *p)
{
	enum fp_mode mode = (enum fp_mode)atomic_load(&p->mode);

	if (p->applied == p->gen)
		return;
	if (mode == FP_DROP && p->lfd >= 0) {
		close(p->lfd);
		p->lfd = -1;
	} else if (mode != FP_DROP && p->lfd < 0) {
		p->lfd = listen_on(p->port);
	}
	p->listen_ok = mode == FP_DROP || p->lfd >= 0;
	p->applied = p->gen;
	pthread_cond_broadcast(&p->changed);
}

static void *acceptor(void *arg)
{
	struct faultproxy *p = arg;

	while (!atomic_load(&p->stopping)) {
		struct pollfd pfd;
		pthread_t th;
		struct conn *k;
		int fd, c;

		pthread_mutex_lock(&p->lock);
		apply_locked(p);
		fd = p->lfd;
		pthread_mutex_unlock(&p->lock);
		if (fd < 0) {
			nap_ms(TICK_MS / 2);
			continue;
		}
		pfd = (struct pollfd){fd, POLLIN, 0};
		if (poll(&pfd, 1, TICK_MS / 2) <= 0)
			continue;
		c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		atomic_fetch_add(&p->accepted, 1);
		if (atomic_load(&p->mode) == FP_RESET) {
			rst(c);
			continue;
		}
		k = calloc(1, sizeof(*k));
		k->p = p;
		k->c = c;
		k->pend = malloc(CHUNK);
		k->u = connect_upstream(p->upstream);
		if (k->u < 0) {
			rst(c);
			free(k->pend);
			free(k);
			continue;
		}
		atomic_fetch_add(&p->active, 1);
		if (pthread_create(&th, NULL, relay, k) != 0) {
			atomic_fetch_sub(&p->active, 1);
			rst(c);
			close(k->u);
			free(k->pend);
			free(k);
			continue;
		}
		pthread_detach(th);
	}
	pthread_mutex_lock(&p->lock);
	if (p->lfd >= 0)
		close(p->lfd);
	p->lfd = -1;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct faultproxy *fp_start(int upstream_port)
{
	struct faultproxy *p = calloc(1, sizeof(*p));
	struct timespec now;
	unsigned seed;

	cr_assert_not_null(p);
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	p->upstream = upstream_port;
	seed = (unsigned)getpid() ^ (unsigned)now.tv_nsec;
	/*
	 * Below the ephemeral range, so that no outgoing connection takes the port
	 * while FP_DROP has it closed; a seed of its own, so that parallel test
	 * processes do not try the same ports in the same order.
	 */
	for (int tries = 0; tries < 200 && p->lfd <= 0; tries++) {
		p->port = 20000 + (int)(rand_r(&seed) % 12000);
		p->lfd = listen_on(p->port);
	}
	cr_assert_gt(p->lfd, 0, "the fault proxy cannot listen on a loopback port");
	p->listen_ok = true;
	cr_assert_eq(pthread_create(&p->acceptor, NULL, acceptor, p), 0);
	return p;
}

void fp_stop(struct faultproxy *p)
{
	if (!p)
		return;
	atomic_store(&p->stopping, true);
	pthread_join(p->acceptor, NULL);
	/* Every connection notices within a tick. */
	while (atomic_load(&p->active) > 0)
		nap_ms(TICK_MS);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p);
}

int fp_port(const struct faultproxy *p)
{
	return p->port;
}

int fp_set(struct faultproxy *p, enum fp_mode mode, int slow_ms)
{
	unsigned long want;
	int rc;

	pthread_mutex_lock(&p->lock);
	atomic_store(&p->slow_ms, slow_ms);
	set_mode_locked(p, mode);
	want = p->gen;
	/* The acceptor applies it within a tick: listening (or not) as the mode says when this returns. */
	while (p->applied < want)
		pthread_cond_wait(&p->changed, &p->lock);
	rc = p->listen_ok ? 0 : -1;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

enum fp_mode fp_mode(struct faultproxy *p)
{
	return (enum fp_mode)atomic_load(&p->mode);
}

void fp_arm(struct faultproxy *p, const char *needle, enum fp_mode mode)
{
	pthread_mutex_lock(&p->lock);
	snprintf(p->needle, sizeof(p->needle), "%s", needle);
	p->armed_mode = (int)mode;
	atomic_store(&p->fired, 0);
	atomic_store(&p->armed, true);
	pthread_mutex_unlock(&p->lock);
}

int fp_fired(struct faultproxy *p)
{
	return atomic_load(&p->fired);
}

void fp_disarm(struct faultproxy *p)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->armed, false);
	pthread_mutex_unlock(&p->lock);
}

long fp_accepted(struct faultproxy *p)
{
	return atomic_load(&p->accepted);
}

int fp_held(struct faultproxy *p)
{
	return atomic_load(&p->held);
}
