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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	return strtoll(sh_out("readlink \"$FLUXORI_RUN_DIR/sock/%s.sock\" | sed 's/^%s\\.//; s/\\.sock$//'", unit, unit),
		       NULL, 10);
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
		 "\"$FLUXORI_SRCDIR/scripts/fluxorictl\" status | grep -q '^%s  *running ' && exit 0; sleep 0.1; done; exit 1",
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
	for (time_t end = time(NULL) + 120; ((after = worker_pid("reports.b")) == pid || after <= 0) && time(NULL) < end;)
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
