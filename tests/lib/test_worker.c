#include "worker.h"

#include "arena.h"
#include "http.h"
#include "testreq.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int h(struct fx_req *r, struct fx_err *e)
{
	(void)r;
	(void)e;
	return 0;
}

static const struct fx_route routes[] = {
	{"GET", "/health", h, FX_PUBLIC, FX_ROLE_NONE, 0, 0},
	{"PATCH", "/v1/users/me", h, FX_SIGNED_IN, FX_ROLE_NONE, FX_BODY_JSON, 0},
	{"POST", "/v1/files", h, FX_MEMBER, FX_ROLE_STAFF, FX_BODY_RAW, 10u * 1024 * 1024},
	{"POST", "/v1/jobs/{name}", h, FX_JOB, FX_ROLE_ADMIN, 0, 0},
	{"DELETE", "/v1/products/{id}/images/{fileId}", h, FX_MEMBER, FX_ROLE_MANAGER, 0, 0},
};

static const struct fx_app app = {"sample", routes, sizeof(routes) / sizeof(routes[0]), NULL};

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "%s present", key);
	return json_object_get_string(v);
}

Test(worker, routes_json_lists_every_route_with_its_access_role_and_body)
{
	json_object *o = fx_worker_routes_json(&app), *list, *r;

	cr_assert_str_eq(str(o, "group"), "sample");
	cr_assert(json_object_object_get_ex(o, "routes", &list));
	cr_assert_eq(json_object_array_length(list), 5);
	r = json_object_array_get_idx(list, 0);
	cr_assert_str_eq(str(r, "method"), "GET");
	cr_assert_str_eq(str(r, "pattern"), "/health");
	cr_assert_str_eq(str(r, "access"), "public");
	cr_assert_str_eq(str(r, "minRole"), "none");
	cr_assert_str_eq(str(r, "body"), "none");
	cr_assert_str_eq(str(r, "maxBody"), "1048576", "0 means the default body limit");
	r = json_object_array_get_idx(list, 1);
	cr_assert_str_eq(str(r, "access"), "signed-in");
	cr_assert_str_eq(str(r, "body"), "json");
	r = json_object_array_get_idx(list, 2);
	cr_assert_str_eq(str(r, "access"), "member");
	cr_assert_str_eq(str(r, "minRole"), "staff");
	cr_assert_str_eq(str(r, "body"), "raw");
	cr_assert_str_eq(str(r, "maxBody"), "10485760");
	r = json_object_array_get_idx(list, 3);
	cr_assert_str_eq(str(r, "access"), "job");
	cr_assert_str_eq(str(r, "minRole"), "admin");
	r = json_object_array_get_idx(list, 4);
	cr_assert_str_eq(str(r, "pattern"), "/v1/products/{id}/images/{fileId}");
	cr_assert_str_eq(str(r, "minRole"), "manager");
	json_object_put(o);
}

Test(worker, routes_flag_prints_the_table_without_configuration_or_socket, .init = cr_redirect_stdout)
{
	char *argv[] = {"fluxori-sample", "--routes", NULL};
	json_object *o = fx_worker_routes_json(&app);
	char expected[2048];

	snprintf(expected, sizeof(expected), "%s\n",
		 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	/* No FLUXORI_* configuration and fd 0 is no socket: the serving path would refuse to start. */
	cr_assert_eq(fx_worker_main(&app, 2, argv), 0);
	fflush(stdout);
	cr_assert_stdout_eq_str(expected);
}

/* Serves one request made of the FastCGI params env (no body arrives) and returns its request log line. */
static const char *serve_logged(char **env)
{
	static unsigned char sent[1 << 16];
	static char line[8192];
	FCGX_Stream stream;
	struct fx_arena arena;
	struct fx_req r;
	size_t n;
	FILE *log;

	testreq_start(&r, env, &stream, &stream, sent, sizeof(sent), &arena);
	fx_worker_handle(&app, &r);
	fx_http_req_cleanup(&r);
	fx_arena_cleanup(&arena);
	fflush(stderr);
	log = cr_get_redirected_stderr();
	n = fread(line, 1, sizeof(line) - 1, log);
	line[n] = '\0';
	return line;
}

Test(worker, a_content_length_that_is_not_a_number_is_logged_as_no_declared_body, .init = cr_redirect_stderr)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/health", "CONTENT_LENGTH=12abc", NULL};
	const char *line = serve_logged(env);

	cr_assert_not_null(strstr(line, "\"status\":400"), "fx_http_req_read_body refused it: %s", line);
	/* strtoull(cl, NULL, 10) logged the 12 it read before the junk. */
	cr_assert_not_null(strstr(line, "\"requestSize\":\"0\""), "%s", line);
}

/*
 * A worker's start, in a child process: fx_worker_main with a listening
 * unix socket as fd 0, FLUXORI_READY_FILE and a demo configuration. This
 * file is linked with --wrap=pthread_create (Makefile.am): the worker's
 * threads are made here, and threads_allowed makes every creation after
 * that many fail as with EAGAIN (no memory for a stack, a process limit);
 * -1 lets all through.
 */
static int threads_allowed = -1;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (threads_allowed == 0)
		return EAGAIN;
	if (threads_allowed > 0)
		threads_allowed--;
	return __real_pthread_create(t, attr, fn, arg);
}

struct started {
	char dir[64], ready[96], log[96];
	pid_t pid;
};

static void start_worker(struct started *w, int allowed)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char env[96];
	int s, fd;

	snprintf(w->dir, sizeof(w->dir), "/tmp/fx-worker-XXXXXX");
	cr_assert_not_null(mkdtemp(w->dir));
	snprintf(w->ready, sizeof(w->ready), "%s/ready", w->dir);
	snprintf(w->log, sizeof(w->log), "%s/log", w->dir);
	snprintf(env, sizeof(env), "%s/env", w->dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/sock", w->dir);
	fd = open(env, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 16) == 0);
	w->pid = fork();
	cr_assert_geq(w->pid, 0);
	if (w->pid == 0) {
		char *argv[] = {"fluxori-sample", NULL};

		fd = open(w->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(s, 0) < 0 || dup2(fd, 2) < 0)
			_exit(99);
		setenv("FLUXORI_ENV_FILE", env, 1);
		setenv("FLUXORI_READY_FILE", w->ready, 1);
		setenv("GOOGLE_CLOUD_PROJECT", "demo-worker-test", 1);
		setenv("FLUXORI_WORKER_THREADS", "4", 1);
		setenv("FLUXORI_WARM_UP", "off", 1);
		setenv("FLUXORI_DRAIN_GRACE_MS", "0", 1);
		unsetenv("FLUXORI_METRICS_DIR");
		/* As exec leaves them for a worker: Criterion's handlers are not the worker's. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		threads_allowed = allowed;
		_exit(fx_worker_main(&app, 1, argv));
	}
	close(s);
}

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, ms % 1000 * 1000000};

	nanosleep(&t, NULL);
}

/* The worker's exit status as waitpid gives it; the 30 s bound is a failure deadline only. */
static int wait_exit(const struct started *w)
{
	int status = 0;

	for (int i = 0; i < 3000; i++) {
		if (waitpid(w->pid, &status, WNOHANG) == w->pid)
			return status;
		nap_ms(10);
	}
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &status, 0);
	cr_assert_fail("the worker did not exit within 30 s");
	return status;
}

/* Whether the worker's stderr has text, waiting for it up to 30 s (a failure deadline only). */
static bool logged(const struct started *w, const char *text)
{
	static char buf[16384];

	for (int i = 0; i < 3000; i++) {
		FILE *f = fopen(w->log, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		if (strstr(buf, text))
			return true;
		nap_ms(10);
	}
	return false;
}

/* The pid the ready file holds, once it is there; -1 when the worker exited without one. */
static long ready_pid(const struct started *w)
{
	for (int i = 0; i < 3000; i++) {
		FILE *f = fopen(w->ready, "r");
		siginfo_t info = {0};
		long pid = -1;

		if (f) {
			int got = fscanf(f, "%ld", &pid);

			fclose(f);
			if (got == 1)
				return pid;
		}
		/* Exited (not reaped: wait_exit still gets its status) without a ready file. */
		if (waitid(P_PID, (id_t)w->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == w->pid)
			return -1;
		nap_ms(10);
	}
	return -1;
}

static void cleanup_worker(const struct started *w)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/sock", w->dir);
	unlink(path);
	unlink(w->ready);
	unlink(w->log);
	snprintf(path, sizeof(path), "%s/env", w->dir);
	unlink(path);
	rmdir(w->dir);
}

Test(worker, a_worker_that_cannot_start_a_thread_fails_before_it_is_ready, .timeout = 60)
{
	struct started w;
	struct stat st;
	int status;

	start_worker(&w, 0);
	status = wait_exit(&w);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 70, "exit status 70 (software), got 0x%x", status);
	cr_assert_neq(stat(w.ready, &st), 0, "no ready file was written");
	cr_assert(logged(&w, "no worker thread could start"), "the log says why");
	cleanup_worker(&w);
}

Test(worker, a_worker_whose_other_threads_fail_serves_on_one_and_sigterm_still_ends_it, .timeout = 60)
{
	struct started w;
	int status;

	/* The first serving thread only: the other three and the signal thread fail after ready. */
	start_worker(&w, 1);
	cr_assert_eq(ready_pid(&w), (long)w.pid, "ready, with the worker's pid in the file");
	cr_assert(logged(&w, "sample worker ready: 1 threads"), "the ready line counts the threads that run");
	cr_assert(logged(&w, "signal thread not started"), "the missing signal thread is logged");
	kill(w.pid, SIGTERM);
	status = wait_exit(&w);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "SIGTERM ended it, got 0x%x", status);
	cleanup_worker(&w);
}

Test(worker, a_sigterm_as_soon_as_the_worker_is_ready_drains_it_and_it_exits_0, .timeout = 60)
{
	struct started w;
	int status;

	start_worker(&w, -1);
	/* Sent as soon as the file is there: possibly before the signal thread runs. */
	cr_assert_eq(ready_pid(&w), (long)w.pid, "ready, with the worker's pid in the file");
	kill(w.pid, SIGTERM);
	status = wait_exit(&w);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a clean exit, got 0x%x", status);
	cr_assert(logged(&w, "sample worker ready: 4 threads"), "all threads ran");
	cr_assert(logged(&w, "received SIGTERM: draining"), "the drain ran");
	cleanup_worker(&w);
}
