/*
 * The control script under load: wrk keeps 64 connections busy on GET
 * /health while the health group is swapped (fluxorictl restart) or one of
 * its worker processes is killed with SIGKILL, and not one request may fail.
 * Each group runs as two instances behind one nginx upstream (fluxorictl says
 * why), so a dead process's requests go to the other one.
 *
 * Failures are counted, never timed: wrk's non-2xx answers, its socket
 * errors (connect, read, write) and its timeouts (a request unanswered for
 * 5 s: a hang). The tests share the health group and the machine's two cores,
 * so this file runs its tests one at a time (main below), whatever --jobs
 * the harness passes. Other files never run at the same time (the harness
 * runs one file after the other).
 */
#include "client.h"

#include <criterion/criterion.h>
#include <criterion/options.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * Runs wrk (64 connections) on GET /health; one second into the load runs
 * action (a shell command), one second after it returns stops wrk, which
 * then prints its summary. The load lasts 10 s at most.
 */
static struct wrk_result under_load(const char *name, const char *action)
{
	char out[512], *text;
	struct wrk_result w;

	snprintf(out, sizeof(out), "%s/wrk-%s.out", getenv("FLUXORI_RUN_DIR"), name);
	cr_assert_eq(test_sh("wrk -t2 -c64 -d10s --timeout 5s \"$FLUXORI_TEST_URL/health\" >'%s' 2>&1 & w=$!; "
			     "sleep 1; %s; rc=$?; sleep 1; kill -INT $w 2>/dev/null; wait $w; exit $rc",
			     out, action),
		     0, "%s under load succeeded", action);
	text = test_slurp(out);
	cr_assert_eq(wrk_parse(text, &w), 0, "wrk's summary: %s", text);
	fprintf(stderr, "control: wrk %s: %ld requests, %ld non-2xx, %ld socket errors\n", name, w.requests, w.non2xx,
		w.socket_errors);
	cr_assert_gt(w.requests, 0, "wrk made requests: %s", text);
	cr_expect_eq(w.non2xx, 0, "no request failed with an error answer: %s", text);
	cr_expect_eq(w.socket_errors, 0, "no connection failed or hung: %s", text);
	free(text);
	return w;
}

/* A command's first line of output, or "" (static buffer). */
__attribute__((format(printf, 1, 2))) static const char *sh_out(const char *fmt, ...)
{
	static char out[256];
	char cmd[1024];
	FILE *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return out;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
	return out;
}

/* The generation nginx reaches for one instance (GROUP.a, GROUP.b), from the socket symlink. */
static long long generation(const char *unit)
{
	return strtoll(
		sh_out("readlink \"$FLUXORI_RUN_DIR/sock/%s.sock\" | sed 's/^%s\\.//; s/\\.sock$//'", unit, unit), NULL,
		10);
}

/* The live pid of one instance, from the control script's state. */
static long worker_pid(const char *unit)
{
	char gen[32];

	snprintf(gen, sizeof(gen), "%lld", generation(unit));
	return strtol(sh_out("cat \"$FLUXORI_RUN_DIR/state/%s.%s.pid\" 2>/dev/null", unit, gen), NULL, 10);
}

static long restarts(const char *group)
{
	return strtol(sh_out("cat \"$FLUXORI_RUN_DIR/state/%s.restarts\" 2>/dev/null || echo 0", group), NULL, 10);
}

/*
 * Until both instances of group run again (bounded by 120 s, a safety net: a
 * supervisor restarts its worker at once, but a busy machine may take seconds
 * to start it); then GET /health answers 200.
 */
static void assert_group_serves(const char *group)
{
	char cmd[320];

	snprintf(cmd, sizeof(cmd),
		 "end=$(($(date +%%s) + 120)); while [ $(date +%%s) -lt $end ]; do "
		 "\"$FLUXORI_SRCDIR/scripts/fluxorictl\" status | grep -q '^%s  *running ' && exit 0; sleep 0.1; done; "
		 "exit 1",
		 group);
	cr_assert_eq(test_sh("%s", cmd), 0, "both instances of %s run again", group);
	for (int i = 0; i < 20; i++) {
		struct http_resp *r = http_get("/health", NULL);

		cr_assert_eq(r->status, 200, "%s", r->body);
		http_resp_free(r);
	}
}

#define RESTART_HEALTH "\"$FLUXORI_SRCDIR/scripts/fluxorictl\" restart health 2>>\"$FLUXORI_RUN_DIR/workers.log\""

Test(control, restart_under_load_fails_no_request, .timeout = 60)
{
	long long a = generation("health.a"), b = generation("health.b");

	cr_assert_gt(a, 0);
	cr_assert_gt(b, 0);
	under_load("restart", RESTART_HEALTH);
	cr_assert_gt(generation("health.a"), a, "instance a was swapped");
	cr_assert_gt(generation("health.b"), b, "instance b was swapped");
	assert_group_serves("health");
}

Test(control, the_same_group_swaps_twice_in_a_row_under_load, .timeout = 60)
{
	long long a = generation("health.a");

	under_load("restart-twice", RESTART_HEALTH " && " RESTART_HEALTH);
	cr_assert_gt(generation("health.a"), a);
	assert_group_serves("health");
}

Test(control, a_worker_killed_under_load_fails_no_request, .timeout = 60)
{
	const char *crashes = "fluxori_worker_restarts_total{group=\"health\"}";
	long pid = worker_pid("health.a"), before = restarts("health"), after;
	double crashes_before = test_metric(crashes);
	char kill_cmd[64];

	cr_assert_gt(pid, 0, "instance a of health runs");
	snprintf(kill_cmd, sizeof(kill_cmd), "kill -9 %ld", pid);
	under_load("kill", kill_cmd);
	assert_group_serves("health");
	after = worker_pid("health.a");
	cr_assert_gt(after, 0);
	cr_assert_neq(after, pid, "a new process serves as instance a");
	cr_assert_gt(restarts("health"), before, "the supervisor counted the restart (%ld before)", before);
	cr_assert_eq(test_metric(crashes) - crashes_before, 1, "/metrics counts the killed worker once");
}

/*
 * Without load, on another group and a POST: once the killed process is gone,
 * a connect refused while its supervisor restarts it is retried on the other
 * instance (the request was never sent), so every answer comes from a worker
 * (401: no token). A POST already sent to the process as it died would get
 * the 503 (nginx never resends a POST): hence the wait for it to be gone.
 */
Test(control, a_killed_worker_is_restarted_and_its_group_keeps_answering, .timeout = 180)
{
	long pid = worker_pid("reports.b"), before = restarts("reports"), after = -1;

	cr_assert_gt(pid, 0, "instance b of reports runs");
	cr_assert_eq(test_sh("kill -9 %ld && end=$(($(date +%%s) + 60)); while [ $(date +%%s) -lt $end ]; do "
			     "kill -0 %ld 2>/dev/null || exit 0; sleep 0.01; done; exit 1",
			     pid, pid),
		     0, "the killed process is gone");
	for (int i = 0; i < 50; i++) {
		struct http_resp *r = http_json("POST", "/v1/reports", NULL, "{}");

		cr_assert_eq(r->status, 401, "the answer is a worker's, never nginx's 503: %ld %s", r->status, r->body);
		http_resp_free(r);
		usleep(20 * 1000);
	}
	/* Its supervisor restarts it at once (rewriting the pid file: it may read empty); 120 s bounds a hang. */
	for (time_t end = time(NULL) + 120;
	     ((after = worker_pid("reports.b")) == pid || after <= 0) && time(NULL) < end;)
		usleep(50 * 1000);
	cr_assert_gt(after, 0);
	cr_assert_neq(after, pid, "a new worker process serves");
	cr_assert_gt(restarts("reports"), before);
}

/* Whether a line of the stack's log (RUN/workers.log, where scripts/stack sent the start's stderr) holds both. */
static bool stack_log_has(const char *text, const char *also)
{
	char path[600], line[4096];
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "%s/workers.log", getenv("FLUXORI_RUN_DIR"));
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) && strstr(line, also);
	fclose(f);
	return found;
}

/*
 * A restart's new generation inherited the caller's stdout and stderr: with
 * them on a pipe (fluxorictl restart health 2>&1 | tail) the pipe never
 * closed, so the command never ended, and run from an operator's shell the
 * workers' logs went to that shell (and died with it) instead of the
 * stack's log. The restart returns once the swap is done, its workers hold
 * nothing of the caller's, and they log where the start's workers do.
 * timeout (150 s) only bounds the hang this test would otherwise become.
 */
Test(control, a_restart_through_a_pipe_returns_and_its_workers_log_to_the_stacks_log, .timeout = 240)
{
	char ready[2][96];
	long pids[2];

	cr_assert_eq(test_sh("timeout 150 sh -c '\"$FLUXORI_SRCDIR/scripts/fluxorictl\" restart health 2>&1 | cat "
			     ">/dev/null'"),
		     0, "the restart returned (124: it still held the pipe after 150 s)");
	pids[0] = worker_pid("health.a");
	pids[1] = worker_pid("health.b");
	for (int i = 0; i < 2; i++) {
		cr_assert_gt(pids[i], 0, "instance %c of health runs", 'a' + i);
		snprintf(ready[i], sizeof(ready[i]), " threads, pid %ld\"", pids[i]);
	}
	assert_group_serves("health");
	for (int i = 0; i < 2; i++)
		cr_assert(stack_log_has("\"health worker ready: ", ready[i]),
			  "the stack's log has the restarted worker's ready line (pid %ld)", pids[i]);
}

/*
 * A unit's supervisor (handlers/supervise) and its worker hold nothing of the
 * command that started them but the stack's log: the supervisor exactly its
 * stdin (/dev/null), stdout and stderr (the stack's log), the worker no pipe
 * and no /dev/null above 2 (what fluxorictl's bash supervisors handed down:
 * its nap FIFO, the script's descriptor, the entrypoint's coprocess pipe).
 */
Test(control, a_units_supervisor_and_worker_hold_only_their_socket_and_the_stacks_log)
{
	char log[600], gen[32];
	long wpid, spid;

	snprintf(gen, sizeof(gen), "%lld", generation("health.a"));
	wpid = worker_pid("health.a");
	spid = strtol(sh_out("cat \"$FLUXORI_RUN_DIR/state/health.a.%s.super\" 2>/dev/null", gen), NULL, 10);
	cr_assert_gt(wpid, 0, "instance a of health runs");
	cr_assert_gt(spid, 0, "its supervisor's pid is recorded");
	snprintf(log, sizeof(log), "%s/workers.log", getenv("FLUXORI_RUN_DIR"));
	cr_assert_str_eq(sh_out("cd /proc/%ld/fd && ls | sort -n | tr '\\n' ' '", spid), "0 1 2 ",
			 "the supervisor's descriptors");
	cr_assert_str_eq(sh_out("readlink /proc/%ld/fd/0", spid), "/dev/null");
	cr_assert_str_eq(sh_out("readlink /proc/%ld/fd/1", spid), log);
	cr_assert_str_eq(sh_out("readlink /proc/%ld/fd/2", spid), log);
	cr_assert_str_eq(sh_out("readlink /proc/%ld/fd/2", wpid), log);
	cr_assert_str_eq(sh_out("cd /proc/%ld/fd && for f in *; do [ \"$f\" -gt 2 ] && readlink \"$f\"; done | "
				"grep -E '^pipe:|^/dev/null$' | tr '\\n' ' '",
				wpid),
			 "", "the worker inherited no pipe and no /dev/null");
}

/*
 * A FastCGI client as nginx is one (fastcgi_keep_conn on): connects to one
 * worker instance's socket, sends GET path with FCGI_KEEP_CONN, reads the
 * answer up to its FCGI_END_REQUEST. Every wait is bounded by 30 s, a
 * failure deadline only (a request a worker never answers).
 */
static int fcgi_connect(const char *unit)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock/%s.sock", getenv("FLUXORI_RUN_DIR"), unit);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %s: %s", sa.sun_path,
		     strerror(errno));
	return fd;
}

static void fcgi_record(unsigned char *out, size_t *n, int type, const void *body, size_t len)
{
	unsigned char h[8] = {1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)len, 0, 0};

	memcpy(out + *n, h, 8);
	memcpy(out + *n + 8, body, len);
	*n += 8 + len;
}

static void fcgi_param(unsigned char *p, size_t *n, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	p[(*n)++] = (unsigned char)nl;
	p[(*n)++] = (unsigned char)vl;
	memcpy(p + *n, name, nl);
	memcpy(p + *n + nl, value, vl);
	*n += nl + vl;
}

static void fcgi_send_get(int fd, const char *path)
{
	static const unsigned char begin[8] = {0, 1, 1 /* FCGI_KEEP_CONN */, 0, 0, 0, 0, 0};
	unsigned char params[512], out[1024];
	size_t np = 0, n = 0;

	fcgi_param(params, &np, "REQUEST_METHOD", "GET");
	fcgi_param(params, &np, "REQUEST_URI", path);
	fcgi_param(params, &np, "QUERY_STRING", "");
	fcgi_param(params, &np, "SERVER_PROTOCOL", "HTTP/1.1");
	fcgi_param(params, &np, "REMOTE_ADDR", "127.0.0.1");
	fcgi_record(out, &n, 1 /* BEGIN_REQUEST */, begin, sizeof(begin));
	fcgi_record(out, &n, 4 /* PARAMS */, params, np);
	fcgi_record(out, &n, 4, "", 0);
	fcgi_record(out, &n, 5 /* STDIN */, "", 0);
	cr_assert_eq(write(fd, out, n), (ssize_t)n, "request written: %s", strerror(errno));
}

/* n bytes within 30 s; 0 at the end of the connection before any byte, -1 on a deadline or error. */
static int read_full(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&pfd, 1, 30000) != 1)
			return -1;
		r = read(fd, p + got, n - got);
		if (r == 0 && got == 0)
			return 0;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 1;
}

/* The answer's HTTP status (its Status: line), once FCGI_END_REQUEST came; -1 when none came. */
static int fcgi_answer(int fd)
{
	unsigned char h[8], body[65536 + 256];
	int status = -1;

	for (;;) {
		size_t len;

		if (read_full(fd, h, 8) != 1)
			return -1;
		len = ((size_t)h[4] << 8 | h[5]) + h[6];
		if (len && read_full(fd, body, len) != 1)
			return -1;
		if (h[1] == 3 /* END_REQUEST */)
			return status;
		if (h[1] == 6 /* STDOUT */ && status < 0 && len > 12 && memcmp(body, "Status: ", 8) == 0)
			status = atoi((char *)body + 8);
	}
}

static long config_threads(void)
{
	const char *t = getenv("FLUXORI_WORKER_THREADS");

	return t && atol(t) > 0 ? atol(t) : 16;
}

/* Many requests, one after the other, over one kept connection: each is answered on it. */
Test(control, a_kept_connection_serves_request_after_request)
{
	int fd = fcgi_connect("health.a");

	for (int i = 0; i < 500; i++) {
		fcgi_send_get(fd, "/health");
		cr_assert_eq(fcgi_answer(fd), 200, "request %d on the kept connection answered", i);
	}
	close(fd);
}

/*
 * More idle kept connections than the worker has threads: each thread used
 * to wait on the connection it last served (FCGX_Accept_r reads the next
 * request from it), so with every thread held by an idle connection the
 * next request waited until nginx let one go. Now a request is answered,
 * on a kept connection or a new one.
 */
Test(control, idle_kept_connections_beyond_the_thread_count_keep_no_request_waiting)
{
	long n = config_threads() + 4;
	int fds[300], fresh;

	cr_assert_leq(n, 300);
	for (long i = 0; i < n; i++) {
		fds[i] = fcgi_connect("health.a");
		fcgi_send_get(fds[i], "/health");
		cr_assert_eq(fcgi_answer(fds[i]), 200, "connection %ld of %ld (%ld threads) answered", i + 1, n,
			     config_threads());
	}
	fcgi_send_get(fds[0], "/health");
	cr_assert_eq(fcgi_answer(fds[0]), 200, "the first kept connection answered again");
	fresh = fcgi_connect("health.a");
	fcgi_send_get(fresh, "/health");
	cr_assert_eq(fcgi_answer(fresh), 200, "a new connection answered");
	close(fresh);
	for (long i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * SIGTERM with idle kept connections: once the worker stopped accepting,
 * a request nginx sends on one of them is still answered (the worker used
 * to shut them down; a GET nginx had just sent on one then failed, and on a
 * swap under load nginx answered 502 when the other instance's kept
 * connection failed the same way). It exits by itself once nginx (here the
 * test) has closed them, not at the drain deadline; its supervisor then
 * starts another.
 */
Test(control, a_draining_worker_serves_its_kept_connections_until_they_close, .timeout = 180)
{
	long pid = worker_pid("health.b");
	char stopped[64];
	int fds[8];

	cr_assert_gt(pid, 0, "instance b of health runs");
	for (int i = 0; i < 8; i++) {
		fds[i] = fcgi_connect("health.b");
		fcgi_send_get(fds[i], "/health");
		cr_assert_eq(fcgi_answer(fds[i]), 200);
	}
	cr_assert_eq(kill((pid_t)pid, SIGTERM), 0);
	snprintf(stopped, sizeof(stopped), "stopped accepting (pid %ld)", pid);
	for (int i = 0; i < 600 && !stack_log_has(stopped, "\"health\""); i++)
		usleep(50000);
	cr_assert(stack_log_has(stopped, "\"health\""), "the worker logged that it stopped accepting");
	for (int i = 0; i < 8; i++) {
		fcgi_send_get(fds[i], "/health");
		cr_assert_eq(fcgi_answer(fds[i]), 200, "kept connection %d served after the stop", i);
		close(fds[i]);
	}
	cr_assert_eq(test_sh("end=$(($(date +%%s) + 60)); while [ $(date +%%s) -lt $end ]; do "
			     "kill -0 %ld 2>/dev/null || exit 0; sleep 0.05; done; exit 1",
			     pid),
		     0, "the draining worker exited");
	cr_assert_not(stack_log_has("requests still running after", "\"health\""),
		      "the worker was not cut off at the drain deadline");
	assert_group_serves("health");
}

/*
 * POSTs while the group swaps: nginx never resends a POST it sent, so a POST
 * must never go out on a kept connection the old worker closes as it drains
 * (POST and PATCH use the group's upstream without kept connections). Every
 * answer is the health worker's 405, none nginx's 502 or 503.
 */
Test(control, restart_under_post_load_fails_no_post, .timeout = 60)
{
	char script[512], out[512], *text;
	long bad = -1, total = -1;
	const char *p;
	FILE *f;

	snprintf(script, sizeof(script), "%s/post405.lua", getenv("FLUXORI_RUN_DIR"));
	snprintf(out, sizeof(out), "%s/wrk-post.out", getenv("FLUXORI_RUN_DIR"));
	f = fopen(script, "w");
	cr_assert_not_null(f);
	fputs("wrk.method = \"POST\"\nwrk.body = \"{}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
	      "local threads = {}\nfunction setup(t) table.insert(threads, t) end\n"
	      "function init() bad = 0 total = 0 end\n"
	      "function response(status) total = total + 1 if status ~= 405 then bad = bad + 1 end end\n"
	      "function done() local b, n = 0, 0 for _, t in ipairs(threads) do b = b + t:get(\"bad\") "
	      "n = n + t:get(\"total\") end io.write(string.format(\"post-bad %d of %d\\n\", b, n)) end\n",
	      f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(test_sh("wrk -t2 -c64 -d10s --timeout 5s -s '%s' \"$FLUXORI_TEST_URL/health\" >'%s' 2>&1 & w=$!; "
			     "sleep 1; %s; rc=$?; sleep 1; kill -INT $w 2>/dev/null; wait $w; exit $rc",
			     script, out, RESTART_HEALTH),
		     0);
	text = test_slurp(out);
	p = strstr(text, "post-bad ");
	cr_assert_not_null(p, "%s", text);
	cr_assert_eq(sscanf(p, "post-bad %ld of %ld", &bad, &total), 2, "%s", text);
	fprintf(stderr, "control: wrk post: %ld answers, %ld not the worker's 405\n", total, bad);
	cr_assert_gt(total, 0, "%s", text);
	cr_expect_eq(bad, 0, "every POST answered by a worker: %s", text);
	cr_expect_null(strstr(text, "Socket errors"), "no connection failed or hung: %s", text);
	free(text);
	assert_group_serves("health");
}

/* One test at a time: they share the health group and two cores. */
int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	if (criterion_handle_args(argc, argv, true)) {
		criterion_options.jobs = 1;
		result = !criterion_run_all_tests(tests);
	}
	criterion_finalize(tests);
	return result;
}
