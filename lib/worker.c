#include "worker.h"

#include "arena.h"
#include "authz.h"
#include "config.h"
#include "firestore.h"
#include "clock.h"
#include "http.h"
#include "httpc.h"
#include "identity.h"
#include "idtoken.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "str.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_FD 0
#define ARENA_LIMIT (48u * 1024 * 1024)
/* Above the largest body nginx passes a worker (fluxorictl: client_max_body_size 10m for files). */
#define DRAIN_MAX (64u * 1024 * 1024)

static atomic_bool stopping;
static const struct fx_app *the_app;

bool fx_worker_stopping(void)
{
	return atomic_load(&stopping);
}

static double elapsed_s(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static bool is_json(const char *ctype)
{
	size_t n = strlen("application/json");

	return ctype && strncasecmp(ctype, "application/json", n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static int dispatch(const struct fx_app *app, struct fx_req *r, struct fx_err *e)
{
	const struct fx_route *route;
	char allow[128];
	size_t max;

	route = fx_router_match(app->routes, app->nroutes, r->method, r->path, r->arena, &r->params, allow,
				sizeof(allow), e);
	if (!route) {
		if (fx_err_is(e, FX_METHOD_NOT_ALLOWED))
			fx_http_resp_header(r, "Allow", allow);
		return -1;
	}
	r->route = route;
	if (route->access != FX_PUBLIC && fx_authz_request(r, e) < 0)
		return -1;
	max = route->max_body ? route->max_body : FX_DEFAULT_MAX_BODY;
	if (fx_http_req_read_body(r, max, e) < 0)
		return -1;
	if (r->body_len > 0 && (route->flags & FX_BODY_JSON) && !is_json(fx_http_req_env(r, "CONTENT_TYPE")))
		return fx_err_set(e, FX_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json");
	if (r->body_len > 0 && !(route->flags & (FX_BODY_JSON | FX_BODY_RAW)))
		return fx_err_set(e, FX_INVALID_ARGUMENT, "this method takes no request body");
	return route->handler(r, e);
}

void fx_worker_handle(const struct fx_app *app, struct fx_req *r)
{
	struct fx_err e;
	struct fx_log_request lr;
	uint64_t declared;

	fx_err_clear(&e);
	if (dispatch(app, r, &e) < 0 && !r->status) {
		if (fx_err_is(&e, FX_OK))
			fx_err_set(&e, FX_INTERNAL, "handler failed without an error");
		if (fx_err_http(e.kind) >= 500)
			fx_log_error("%s %s: %s", r->method, r->path, e.message);
		/* -1 means the client went away: the request log line below still records the answer. */
		fx_err_ignore(fx_http_resp_error(r, &e));
	} else if (!r->status) {
		fx_err_set(&e, FX_INTERNAL, "handler sent no response");
		fx_log_error("%s %s: %s", r->method, r->path, e.message);
		fx_err_ignore(fx_http_resp_error(r, &e)); /* as above */
	}

	memset(&lr, 0, sizeof(lr));
	lr.method = r->method;
	lr.path = r->path;
	lr.user_agent = fx_http_req_header(r, "User-Agent");
	lr.remote_ip = fx_http_req_client_ip(r);
	lr.request_id = r->request_id;
	lr.trace_id = r->trace_id[0] ? r->trace_id : NULL;
	lr.span_id = r->span_id[0] ? r->span_id : NULL;
	lr.sampled = r->sampled;
	lr.status = r->status;
	/* What the client declared, as fx_http_req_read_body reads it; nothing when that refused it. */
	if (fx_http_req_content_length(r, &declared) < 0)
		declared = 0;
	lr.request_size = (size_t)declared;
	lr.response_size = r->resp_bytes;
	lr.latency_s = elapsed_s(&r->start);
	lr.error = r->err_status;
	lr.message = r->err_status ? r->err_message : NULL;
	fx_log_request(&lr);
	fx_metrics_request(r->route ? (int)(r->route - app->routes) : -1, r->status, lr.latency_s);
}

/*
 * The serving loop. Every thread waits in epoll_wait on one epoll set that
 * holds the listening socket, every open connection from nginx that is not
 * being served, and an eventfd the signal thread makes readable to stop.
 * Each is registered EPOLLONESHOT, so one readiness goes to exactly one
 * thread: the listening socket to a thread that accepts what is queued,
 * a connection to a thread that serves the one request on it with libfcgi
 * and then gives it back to the set (nginx asked to keep it) or closes it.
 * An idle kept connection is only an entry in the set: it never holds a
 * thread, so any number of them cannot starve the next request.
 */
#define MAX_CONNS 4096
#define TAG_LISTEN UINT64_MAX
#define TAG_STOP (UINT64_MAX - 1)

enum conn_state { CONN_FREE, CONN_ARMED, CONN_BUSY };

struct conn {
	int fd;
	unsigned char state;
};

/*
 * Slots below nused have held a connection; those given back wait in
 * free_slots. Nothing fills the tables at the start: a page of them is
 * first written when a connection takes one of its slots, so a start no
 * longer pays the ~12 page faults of writing all 48 KiB.
 */
static struct conn conns[MAX_CONNS];
static int free_slots[MAX_CONNS];
static int nfree, nused, nconns;
static bool stop_done; /* the set no longer holds the listening socket */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static int epfd = -1, stopfd = -1;

static int arm(int op, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = tag};

	return epoll_ctl(epfd, op, fd, &ev);
}

/* Wakes the next thread waiting for the stop (each one passes it on). */
static void pass_stop(void)
{
	if (arm(EPOLL_CTL_MOD, stopfd, TAG_STOP) < 0)
		fx_log_error("epoll: %s", strerror(errno));
}

/* Called with conns_lock held: the slot's connection is gone. */
static void drop(int slot)
{
	conns[slot].state = CONN_FREE;
	conns[slot].fd = -1;
	free_slots[nfree++] = slot;
	if (--nconns == 0 && stop_done)
		pass_stop();
}

/* Accepts what the listening socket has queued (it is non-blocking), then re-arms it. */
static void accept_queued(void)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC), slot;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fx_log_error("accept failed: %s", strerror(errno));
			break;
		}
		pthread_mutex_lock(&conns_lock);
		if (nfree == 0 && nused == MAX_CONNS) {
			pthread_mutex_unlock(&conns_lock);
			fx_log_error("over %d connections from nginx: closing one", MAX_CONNS);
			close(fd);
			continue;
		}
		slot = nfree > 0 ? free_slots[--nfree] : nused++;
		conns[slot] = (struct conn){.fd = fd, .state = CONN_ARMED};
		nconns++;
		if (arm(EPOLL_CTL_ADD, fd, (uint64_t)slot) < 0) {
			fx_log_error("epoll: %s", strerror(errno));
			close(fd);
			drop(slot);
		}
		pthread_mutex_unlock(&conns_lock);
	}
	pthread_mutex_lock(&conns_lock);
	if (!stop_done && arm(EPOLL_CTL_MOD, LISTEN_FD, TAG_LISTEN) < 0)
		fx_log_error("epoll: %s", strerror(errno));
	pthread_mutex_unlock(&conns_lock);
}

/*
 * The first thread to see the stop takes the listening socket out of the
 * set and shuts it down: a connect then fails and nginx tries the other
 * instance. Kept connections stay: a request nginx sends on one is served,
 * and the connection ends only when nginx closes it (the upstream's
 * keepalive_time and keepalive_timeout retire each within seconds,
 * fluxorictl). A worker that closed an idle kept connection itself would
 * race nginx picking it for the next request: on a swap that answer is lost
 * when the other instance's kept connection fails the same way. True when
 * no connection is left: the thread exits.
 */
static bool on_stop(void)
{
	bool done;

	pthread_mutex_lock(&conns_lock);
	if (!stop_done) {
		stop_done = true;
		epoll_ctl(epfd, EPOLL_CTL_DEL, LISTEN_FD, NULL);
		shutdown(LISTEN_FD, SHUT_RDWR);
		fx_log_info("stopped accepting (pid %d): %d kept connections served until nginx closes them",
			    (int)getpid(), nconns);
	}
	done = nconns == 0;
	pthread_mutex_unlock(&conns_lock);
	if (done)
		pass_stop();
	return done;
}

/* Connections serving a request now, and all connections (requests in flight at the deadline). */
static void count_conns(int *busy, int *all)
{
	pthread_mutex_lock(&conns_lock);
	*busy = 0;
	for (int i = 0; i < nused; i++)
		*busy += conns[i].state == CONN_BUSY;
	*all = nconns;
	pthread_mutex_unlock(&conns_lock);
}

/*
 * Fills r from fcgi's request; false when it was refused (answered here).
 * Not inlined: its struct fx_err (4.4 KiB) would otherwise stay in
 * serve_one's frame under every handler, on every thread's stack.
 */
static __attribute__((noinline)) bool start_request(struct fx_req *r, FCGX_Request *fcgi, struct fx_arena *arena)
{
	struct fx_err e;

	fx_err_clear(&e);
	if (fx_http_req_init(r, fcgi->envp, fcgi->in, fcgi->out, arena, &e) == 0)
		return true;
	fx_err_ignore(fx_http_resp_error(r, &e)); /* a client that went away needs no answer */
	fx_metrics_request(-1, r->status, elapsed_s(&r->start));
	return false;
}

/*
 * Serves the one request waiting on fd. 1: the connection is open and
 * nginx asked to keep it; 0: it is open and must be closed; -1: libfcgi
 * closed it (nginx closed its end, or a protocol error).
 */
static int serve_one(FCGX_Request *fcgi, struct fx_arena *arena, int fd)
{
	struct fx_req r;
	int kept;

	/*
	 * With ipcFd set, FCGX_Accept_r reads the request from it instead of
	 * accepting; keepConnection set keeps the FCGX_Finish_r it starts with
	 * from closing fd. When the connection ends before a request, libfcgi
	 * closes it and fails to accept on listen socket -1.
	 */
	fcgi->ipcFd = fd;
	fcgi->keepConnection = 1;
	fcgi->detached = 1;
	if (FCGX_Accept_r(fcgi) < 0) {
		kept = fcgi->ipcFd < 0 ? -1 : 0;
		fcgi->ipcFd = -1;
		return kept;
	}
	fx_metrics_in_flight(1);
	if (start_request(&r, fcgi, arena))
		fx_worker_handle(the_app, &r);
	/*
	 * A response cut short ends with the connection, not with the
	 * request's end record: nginx then closes the client's connection
	 * without the body's end, so the client sees it broken
	 * (fx_http_resp_break). What libfcgi still holds is never sent.
	 */
	if (r.broken) {
		fx_log_warn("%s %s: response cut short: closing the connection without ending the request", r.method,
			    r.path);
		shutdown(fd, SHUT_RDWR);
		fcgi->keepConnection = 0;
	}
	/*
	 * The input is read to its end: on a kept connection the next request
	 * follows it, and a close with input unread resets the connection and
	 * nginx loses the answer. Input too long to read is not kept.
	 */
	if (!r.broken && fx_http_req_drain(&r, DRAIN_MAX) < 0) {
		fx_log_debug("%s %s: request input not read to its end: closing", r.method, r.path);
		fcgi->keepConnection = 0;
	}
	fx_http_req_cleanup(&r);
	/* No lingering close (half-close, then wait for nginx): nginx has its answer. */
	fcgi->detached = 1;
	FCGX_Finish_r(fcgi);
	fx_metrics_in_flight(-1);
	fx_arena_reset(arena);
	kept = fcgi->ipcFd < 0 ? -1 : 1;
	fcgi->ipcFd = -1;
	return kept;
}

static void serve_slot(FCGX_Request *fcgi, struct fx_arena *arena, int slot)
{
	int fd, kept;

	pthread_mutex_lock(&conns_lock);
	if (conns[slot].state != CONN_ARMED) { /* an event for a connection already ended */
		pthread_mutex_unlock(&conns_lock);
		return;
	}
	conns[slot].state = CONN_BUSY;
	fd = conns[slot].fd;
	pthread_mutex_unlock(&conns_lock);

	kept = serve_one(fcgi, arena, fd);

	pthread_mutex_lock(&conns_lock);
	if (kept == 1) {
		conns[slot].state = CONN_ARMED;
		pthread_mutex_unlock(&conns_lock);
		/*
		 * Re-armed outside the lock: the thread its next request wakes
		 * must not wait for this one to let go. Only nginx ends it,
		 * also while the worker stops (on_stop).
		 */
		if (arm(EPOLL_CTL_MOD, fd, (uint64_t)slot) == 0)
			return;
		fx_log_error("epoll: %s", strerror(errno));
		pthread_mutex_lock(&conns_lock);
		if (conns[slot].state != CONN_ARMED) { /* another thread has it: it ends it */
			pthread_mutex_unlock(&conns_lock);
			return;
		}
	}
	if (kept >= 0)
		close(fd);
	drop(slot);
	pthread_mutex_unlock(&conns_lock);
}

static void *serve(void *arg)
{
	FCGX_Request fcgi;
	struct fx_arena arena;

	(void)arg;
	fx_arena_init(&arena, ARENA_LIMIT);
	if (FCGX_InitRequest(&fcgi, -1, 0) != 0) {
		fx_log_error("FCGX_InitRequest failed");
		return NULL;
	}
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(epfd, &ev, 1, -1);

		if (n < 0 && errno != EINTR) {
			fx_log_error("epoll_wait failed: %s", strerror(errno));
			break;
		}
		if (n <= 0)
			continue;
		if (ev.data.u64 == TAG_STOP) {
			if (on_stop())
				break;
		} else if (ev.data.u64 == TAG_LISTEN) {
			accept_queued();
		} else if (ev.data.u64 < MAX_CONNS) {
			serve_slot(&fcgi, &arena, (int)ev.data.u64);
		}
	}
	FCGX_Free(&fcgi, 1);
	fx_arena_cleanup(&arena);
	fx_httpc_thread_cleanup();
	return NULL;
}

/* The epoll set with the listening socket (made non-blocking) and the stop eventfd. */
static int serving_open(void)
{
	int fl = fcntl(LISTEN_FD, F_GETFL);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (epfd < 0 || stopfd < 0 || fl < 0 || fcntl(LISTEN_FD, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    arm(EPOLL_CTL_ADD, LISTEN_FD, TAG_LISTEN) < 0 || arm(EPOLL_CTL_ADD, stopfd, TAG_STOP) < 0) {
		fx_log_error("epoll set-up failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static long env_long(const char *name, long def, long max)
{
	int64_t n;

	/* Unset, empty or not a count in range: the default. */
	return fx_num_parse(getenv(name), 0, max, &n, NULL) == 0 ? (long)n : def;
}

/*
 * Waits for SIGTERM/SIGINT, then stops the accept loops. For a short grace
 * period the threads keep accepting, so connections nginx queued before it
 * moved to a new generation (or quit) are served; then the stop eventfd
 * wakes the threads (on_stop): no more accepting, kept connections served
 * until nginx closes them, requests already sent run to completion. The
 * process exits when the last connection is gone; at the end of the drain
 * window it exits anyway, an error only when a request was still running
 * (idle kept connections left means nginx does not retire them: its
 * upstream has no short keepalive_timeout).
 */
static void *signals(void *arg)
{
	sigset_t *set = arg;
	long grace_ms = env_long("FLUXORI_DRAIN_GRACE_MS", 200, 10000);
	long drain_s = env_long("FLUXORI_DRAIN_SECONDS", 8, 300);
	struct timespec grace = {grace_ms / 1000, grace_ms % 1000 * 1000000};
	int sig = 0, busy, all;

	sigwait(set, &sig);
	fx_log_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	nanosleep(&grace, NULL);
	atomic_store(&stopping, true);
	if (eventfd_write(stopfd, 1) < 0)
		fx_log_error("stop: %s", strerror(errno));
	sleep((unsigned)drain_s);
	count_conns(&busy, &all);
	if (busy == 0) {
		fx_log_info("drain window of %ld s over: closing %d idle kept connections", drain_s, all);
		_exit(0);
	}
	fx_log_error("requests still running after %ld s: exiting", drain_s);
	_exit(1);
	return NULL;
}

json_object *fx_worker_routes_json(const struct fx_app *app)
{
	static const char *const access[] = {"public", "signed-in", "member", "job"};
	json_object *out = json_object_new_object(), *list = json_object_new_array();

	json_object_object_add(out, "group", json_object_new_string(app->group));
	for (size_t i = 0; i < app->nroutes; i++) {
		const struct fx_route *rt = &app->routes[i];
		json_object *o = json_object_new_object();
		const char *body = (rt->flags & FX_BODY_RAW) ? "raw" : (rt->flags & FX_BODY_JSON) ? "json" : "none";

		json_object_object_add(o, "method", json_object_new_string(rt->method));
		json_object_object_add(o, "pattern", json_object_new_string(rt->pattern));
		json_object_object_add(o, "access", json_object_new_string(access[rt->access]));
		json_object_object_add(o, "minRole", json_object_new_string(fx_authz_role_name(rt->min_role)));
		json_object_object_add(o, "body", json_object_new_string(body));
		json_object_object_add(
			o, "maxBody",
			json_object_new_int64((int64_t)(rt->max_body ? rt->max_body : FX_DEFAULT_MAX_BODY)));
		json_object_array_add(list, o);
	}
	json_object_object_add(out, "routes", list);
	return out;
}

/* --routes: the table on stdout, for the route fuzzer; no configuration needed. */
static int print_routes(const struct fx_app *app)
{
	json_object *o = fx_worker_routes_json(app);
	int rc = puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0 ||
				 fflush(stdout) != 0
			 ? 74
			 : 0;

	json_object_put(o);
	return rc;
}

/*
 * The warm-up: what a worker's first authenticated request would otherwise
 * wait for, done once in a thread of its own right after the worker is
 * ready (so /health and readiness are not delayed). The Firebase signing
 * keys are fetched into the process's cache (a request arriving meanwhile
 * waits for this fetch instead of starting its own; after a failed one,
 * the first request tries again), and so are Google's OIDC keys where a
 * job route takes Cloud Scheduler's tokens (configured). Then, for a backend
 * reached over TLS (Google), one call each to Firestore (the membership
 * read's backend) and Firebase Auth (the revocation check's): their access
 * token fetched, their connections opened and handed over
 * (fx_httpc_thread_handover) to whichever serving thread makes the first
 * call. A plain-http backend (an emulator on this machine) is not called:
 * a new connection to it costs 0.1-0.3 ms, while the call itself costs the
 * emulator a request's work at the busiest moment of a start
 * (docs/performance.md). FLUXORI_WARM_UP=all calls them anyway, off warms
 * nothing. A step that fails only leaves that part cold: the worker serves
 * regardless, and one line says what was warmed. Steps not started within
 * WARM_UP_MS, or once the worker is stopping, are skipped; each call has
 * its own timeout. Only groups with authenticated routes warm up.
 */
#define WARM_UP_MS 5000
/* A uid Firebase never issues (ours are 28 characters): its lookup answers "no such user". */
#define WARM_UP_UID "fluxori-warm-up"

enum warm_mode { WARM_OFF, WARM_AUTO, WARM_ALL };

static atomic_bool warm_running;
static enum warm_mode warm_as; /* set before the thread starts */

static bool needs_warm_up(const struct fx_app *app)
{
	for (size_t i = 0; i < app->nroutes; i++)
		if (app->routes[i].access != FX_PUBLIC)
			return true;
	return false;
}

static enum warm_mode warm_mode(void)
{
	const char *v = fx_config_lookup("FLUXORI_WARM_UP"); /* the environment, then the env file */

	if (v && strcmp(v, "off") == 0)
		return WARM_OFF;
	if (v && strcmp(v, "all") == 0)
		return WARM_ALL;
	if (v && *v && strcmp(v, "auto") != 0)
		fx_log_warn("FLUXORI_WARM_UP=%.16s is not auto, all or off: auto", v);
	return WARM_AUTO;
}

/* Whether a backend at base is called in the warm-up (see above). */
static bool warm_backend(enum warm_mode mode, const char *base)
{
	return mode == WARM_ALL || (base && strncmp(base, "https://", 8) == 0);
}

/* One step's outcome into the summary: "ok", "failed" (its error the first kept), "skipped". */
static void warm_step(const char *name, int rc, struct fx_err *e, char *first, size_t first_len, struct fx_buf *sum)
{
	const char *what = rc == 0 ? "ok" : rc > 0 ? "skipped" : "failed";

	if (rc < 0 && !first[0])
		fx_str_text(first, first_len, "%s: %.200s", name, e->message);
	fx_err_ignore(fx_buf_printf(sum, "%s%s %s", sum->len ? ", " : "", name, what));
	fx_err_clear(e);
}

/* Firebase Auth's answer for a uid it has none of: "no such user" counts as warm. */
static int warm_auth(struct fx_err *e)
{
	struct fx_user_record *rec = malloc(sizeof(*rec)); /* 5.7 KiB: not on the stack */
	int rc;

	if (!rec)
		return fx_err_set(e, FX_INTERNAL, "out of memory");
	rc = fx_identity_lookup(WARM_UP_UID, rec, e) == 0 || fx_err_is(e, FX_NOT_FOUND) ? 0 : -1;
	free(rec);
	return rc;
}

/* A job route with Cloud Scheduler's tokens configured (lib/authz.c job_caller): Google's OIDC keys are warmed too. */
static bool takes_scheduler_tokens(const struct fx_app *app, const struct fx_config *cfg)
{
	if (!cfg->jobs_audience || !cfg->jobs_service_accounts)
		return false;
	for (size_t i = 0; i < app->nroutes; i++)
		if (app->routes[i].access == FX_JOB)
			return true;
	return false;
}

static bool warm_in_time(long deadline)
{
	return !fx_worker_stopping() && fx_clock_ms() < deadline;
}

static void *warm_up(void *arg)
{
	const struct fx_app *app = arg;
	const struct fx_config *cfg = fx_config_get();
	enum warm_mode mode = warm_as;
	long t0 = fx_clock_ms(), deadline = t0 + WARM_UP_MS;
	struct fx_err e;
	struct fx_buf sum;
	char first[256] = "";
	int rc;

	fx_err_clear(&e);
	fx_buf_init(&sum, 256);
	rc = warm_in_time(deadline) ? fx_idtoken_warm_up(&e) : 1;
	warm_step("signing keys", rc, &e, first, sizeof(first), &sum);
	if (takes_scheduler_tokens(app, cfg)) {
		rc = warm_in_time(deadline) ? fx_idtoken_warm_up_oidc(&e) : 1;
		warm_step("scheduler keys", rc, &e, first, sizeof(first), &sum);
	}
	if (warm_backend(mode, cfg->firestore_url)) {
		rc = warm_in_time(deadline) ? fx_firestore_ping(&e) : 1;
		warm_step("firestore", rc, &e, first, sizeof(first), &sum);
	}
	if (warm_backend(mode, cfg->identity_url)) {
		rc = warm_in_time(deadline) ? warm_auth(&e) : 1;
		warm_step("firebase auth", rc, &e, first, sizeof(first), &sum);
	}
	fx_httpc_thread_handover();
	if (first[0])
		fx_log_warn("%s warm-up in %ld ms: %s; left cold: %s", app->group, fx_clock_ms() - t0,
			    sum.data ? sum.data : "", first);
	else
		fx_log_info("%s warm-up in %ld ms: %s", app->group, fx_clock_ms() - t0, sum.data ? sum.data : "");
	fx_buf_cleanup(&sum);
	atomic_store(&warm_running, false);
	return NULL;
}

static void warm_up_start(const struct fx_app *app)
{
	pthread_t t;

	warm_as = warm_mode();
	if (!needs_warm_up(app) || warm_as == WARM_OFF) {
		fx_log_info("%s warm-up: nothing to warm (%s)", app->group,
			    warm_as == WARM_OFF ? "FLUXORI_WARM_UP=off" : "no authenticated route");
		return;
	}
	atomic_store(&warm_running, true);
	/* Detached: its stack is given back when it ends, not at the worker's exit. */
	if (pthread_create(&t, NULL, warm_up, (void *)app) != 0) {
		atomic_store(&warm_running, false);
		fx_log_warn("%s warm-up not started: the first requests fetch what they need", app->group);
		return;
	}
	pthread_detach(t);
}

/*
 * True when the warm-up no longer uses libcurl. One still running at the
 * exit (its calls are bounded, but can outlast a drain) is waited for up
 * to 2 s, then left: the process exits without curl_global_cleanup.
 */
static bool warm_up_finish(void)
{
	for (int i = 0; i < 200 && atomic_load(&warm_running); i++)
		fx_clock_sleep_ms(10);
	if (!atomic_load(&warm_running))
		return true;
	fx_log_warn("warm-up still running at exit: libcurl left as it is");
	return false;
}

/*
 * OpenSSL 3's first fetch of any algorithm builds its table of algorithm
 * names (~3 M instructions, ~25 page faults), once per process. The
 * first request that checks a token, seals a secret or opens a TLS
 * connection would pay it: it is paid here, after ready, instead. A
 * failure only leaves it to that request.
 */
static void crypto_prefetch(void)
{
	EVP_MD_free(EVP_MD_fetch(NULL, "SHA256", NULL));
}

/* Tells the control script this worker serves: it waits for the file. */
static void mark_ready(void)
{
	const char *path = getenv("FLUXORI_READY_FILE");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

int fx_worker_main(const struct fx_app *app, int argc, char **argv)
{
	static struct fx_config cfg;
	static sigset_t set;
	struct fx_err e;
	pthread_t *threads, sigthread;
	struct stat st;
	int n;

	if (argc == 2 && strcmp(argv[1], "--routes") == 0)
		return print_routes(app);
	the_app = app;
	/*
	 * glibc gives each thread its own malloc arena (up to 8 per core), each
	 * holding on to freed pages; request memory lives in our per-thread
	 * arenas, so two malloc arenas serve all threads with little contention.
	 */
	mallopt(M_ARENA_MAX, 2);
	fx_log_init(app->group, FX_LOG_INFO);
	/*
	 * OpenSSL initialised first (the configuration's seal key digest and
	 * libcurl would otherwise do it with its defaults): without the system's openssl.cnf
	 * (Debian's activates nothing) and without loading every module's error
	 * strings, which touches code pages across all of libcrypto (~0.9 MiB
	 * resident in every worker; our code never formats OpenSSL errors, and
	 * curl's certificate messages come from X509_verify_cert_error_string).
	 * Certificate verification is unchanged: the default provider and the CA
	 * store load as before.
	 */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL) != 1) {
		fx_log_error("library initialisation failed: OpenSSL");
		return 70;
	}
	fx_err_clear(&e);
	if (fx_config_load(&cfg, NULL, &e) < 0) {
		fx_log_error("configuration: %s", e.message);
		return 78; /* EX_CONFIG */
	}
	fx_config_set(&cfg);
	fx_log_init(app->group, cfg.log_level);
	if (fstat(LISTEN_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fx_log_error("fd 0 is not a listening socket: start workers with spawn-fcgi (scripts/fluxorictl)");
		return 64;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || FCGX_Init() != 0) {
		fx_log_error("library initialisation failed");
		return 70;
	}
	if (fx_metrics_open(cfg.metrics_dir, app->group, app->routes, app->nroutes, &e) < 0)
		fx_log_warn("%s: counting in memory only", e.message);
	fx_err_clear(&e);
	if (app->init && app->init(&e) < 0) {
		fx_log_error("%s init: %s", app->group, e.message);
		return 70;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (serving_open() < 0)
		return 70;
	threads = calloc((size_t)cfg.worker_threads, sizeof(*threads));
	if (!threads)
		return 70;
	/*
	 * One serving thread before ready, the others after it: a thread's
	 * start is ~3 page faults and ~7 syscalls, ~0.1 ms where kernel work
	 * is dear (gVisor, this project's VMs), and readiness does not wait
	 * for 16 of them. A worker that cannot start one fails before ready.
	 * Until the others run (a few milliseconds), requests wait for the
	 * first thread in the listen backlog or the epoll set.
	 */
	if (pthread_create(&threads[0], NULL, serve, NULL) != 0) {
		fx_log_error("no worker thread could start");
		return 70;
	}
	mark_ready();
	for (n = 1; n < cfg.worker_threads; n++)
		if (pthread_create(&threads[n], NULL, serve, NULL) != 0)
			break;
	/* SIGTERM and SIGINT stay blocked until then: one that came since ready waits for sigwait. */
	if (pthread_create(&sigthread, NULL, signals, &set) == 0) {
		pthread_detach(sigthread);
	} else {
		/* libfcgi's FCGX_Init catches SIGTERM: its handler only sets a flag. */
		fx_log_error("signal thread not started: SIGTERM ends the worker without a drain");
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	fx_log_info("%s worker ready: %d threads, pid %d", app->group, n, (int)getpid());
	crypto_prefetch();
	warm_up_start(app);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	{
		struct fx_metrics_totals t;

		fx_metrics_totals(&t);
		fx_log_info("%s worker stopped: %llu calls to Google (%llu retried, %llu unreachable, %llu new "
			    "connections), "
			    "%llu transactions (%llu retries after ABORTED, %llu gave up)",
			    app->group, t.calls, t.retries, t.unreachable, t.connects, t.txn[FX_TXN_STARTED],
			    t.txn[FX_TXN_RETRIED], t.txn[FX_TXN_GAVE_UP]);
	}
	fx_metrics_close();
	if (warm_up_finish()) {
		fx_httpc_spare_cleanup();
		curl_global_cleanup();
	}
	fx_config_release();
	return 0;
}
