#include "instance.h"

#include "buf.h"
#include "client.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *test_data(const char *name)
{
	static __thread char path[512];

	snprintf(path, sizeof(path), "%s/tests/data/%s", getenv("FLUXORI_SRCDIR"), name);
	return path;
}

long test_status(const char *url)
{
	struct http_resp *r = http_url("GET", url, NULL, NULL, 0);
	long s = r->status;

	http_resp_free(r);
	return s;
}

struct testserver *test_cert_server(void)
{
	struct testserver *ts = ts_start();
	char *cert = test_slurp(test_data("signer1.cert.pem"));
	struct fx_buf json;

	fx_buf_init(&json, 16384);
	cr_assert_eq(fx_buf_puts(&json, "{\"kid1\":"), 0);
	cr_assert_eq(fx_buf_json_string(&json, cert, strlen(cert)), 0);
	cr_assert_eq(fx_buf_puts(&json, "}"), 0);
	ts_reply(ts, 200, "Cache-Control: public, max-age=3600\r\nContent-Type: application/json\r\n", json.data);
	fx_buf_cleanup(&json);
	free(cert);
	return ts;
}

static int free_port(void)
{
	int port;

	do
		port = 20000 + rand() % 12000;
	while (test_sh("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null", port) == 0);
	return port;
}

/* Every name the env file sets must win over what the harness exported for the shared stack. */
static void unset_overrides(const char *lines)
{
	const char *p = lines;

	while (p && *p) {
		const char *eq = strchr(p, '='), *nl = strchr(p, '\n');
		char name[128];

		if (eq && (!nl || eq < nl)) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
			unsetenv(name);
		}
		p = nl ? nl + 1 : p + strlen(p);
	}
}

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* The group exists (kill(2) counts zombies too: bounded waits only). */
static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* SIGTERM to the group, up to limit_ms for it to end, then SIGKILL. Async-signal-safe. */
static void end_group(pid_t pgid, long limit_ms)
{
	if (kill(-pgid, SIGTERM) < 0 && errno == ESRCH)
		return;
	for (long t = 0; t < limit_ms && group_alive(pgid); t += 50)
		nap_ms(50);
	kill(-pgid, SIGKILL);
}

/*
 * The reaper, in the child of a fork: only async-signal-safe calls (the
 * test process may have threads). It reads the instance's process group
 * (written by the entrypoint's child before its exec), then waits for EOF:
 * the test process, the only holder of the write end, is gone or has
 * stopped the instance. Then it ends the group. Ignores the signals a run's
 * interruption sends around and sits in a group of its own, so that only
 * SIGKILL aimed at it stops it; holds nothing open but its pipe.
 */
static void reaper(int rfd)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	pid_t pgid = 0;
	size_t got = 0;
	ssize_t n;
	char sink[64];
	int null = open("/dev/null", O_RDWR);

	setpgid(0, 0);
	prctl(PR_SET_NAME, "fx-reaper");
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	for (int fd = 0; fd < 3; fd++)
		if (fd != rfd && null >= 0)
			dup2(null, fd);
	if (rfd > 3)
		close_range(3, (unsigned)rfd - 1, 0);
	close_range((unsigned)rfd + 1, ~0U, 0);
	while (got < sizeof(pgid) &&
	       ((n = read(rfd, (char *)&pgid + got, sizeof(pgid) - got)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	if (got < sizeof(pgid) || pgid <= 1)
		_exit(0); /* no instance was started */
	while ((n = read(rfd, sink, sizeof(sink))) != 0)
		if (n < 0 && errno != EINTR)
			break;
	end_group(pgid, 10000);
	_exit(0);
}

/* The last lines of the instance's log, on stderr (the Criterion log). */
static void show_log(const struct instance *in)
{
	fprintf(stderr, "--- last lines of %s/api.log ---\n", in->run);
	fflush(stderr);
	test_sh("tail -n 30 '%s/api.log' >&2", in->run);
}

/* Ends the group, then the reaper; the run directory stays (its log). */
static void end_instance(struct instance *in, long limit_ms)
{
	int status;

	if (in->pid > 0) {
		end_group(in->pid, limit_ms);
		waitpid(in->pid, &status, 0); /* ECHILD at once when already reaped */
		in->pid = 0;
	}
	if (in->guard >= 0) {
		close(in->guard);
		in->guard = -1;
	}
	if (in->reaper > 0) {
		waitpid(in->reaper, &status, 0);
		in->reaper = 0;
	}
}

static void make_run_dir(struct instance *in)
{
	const char *run = getenv("FLUXORI_TEST_RUN");

	cr_assert_not_null(run, "FLUXORI_TEST_RUN is set (tests/integration/run)");
	/* Below the run's directory: scripts/survivors and the harness find what it leaves. */
	snprintf(in->run, sizeof(in->run), "%s/inst.XXXXXX", run);
	cr_assert_not_null(mkdtemp(in->run), "cannot create %s", in->run);
	in->pid = in->reaper = 0;
	in->guard = -1;
}

/* Whether the entrypoint's log has its line for a start that is over (scripts/entrypoint). */
static bool started(const struct instance *in)
{
	char path[200], *line = NULL;
	size_t cap = 0;
	bool over = false;
	FILE *log;

	snprintf(path, sizeof(path), "%s/api.log", in->run);
	log = fopen(path, "r");
	while (log && !over && getline(&line, &cap, log) >= 0)
		over = strstr(line, "fluxori listening on ") != NULL;
	free(line);
	if (log)
		fclose(log);
	return over;
}

#define START_BOUND_S 300 /* a safety net: a start either answers or its entrypoint exits */

static void spawn(struct instance *in)
{
	char env_path[160], url[128], *env_text;
	int port, fds[2], status;
	time_t deadline;

	srand((unsigned)getpid() ^ (unsigned)rand());
	snprintf(env_path, sizeof(env_path), "%s/env", in->run);
	env_text = test_slurp(env_path);
	port = free_port();
	/* Its own internal /metrics listener, not the shared stack's. */
	do
		snprintf(in->metrics, sizeof(in->metrics), "127.0.0.1:%d", free_port());
	while (atoi(in->metrics + 10) == port);
	snprintf(in->base, sizeof(in->base), "http://127.0.0.1:%d", port);

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	fflush(NULL);
	in->reaper = fork();
	cr_assert_geq(in->reaper, 0);
	if (in->reaper == 0) {
		close(fds[1]);
		reaper(fds[0]);
	}
	close(fds[0]);
	in->guard = fds[1];
	in->pid = fork();
	cr_assert_geq(in->pid, 0);
	if (in->pid == 0) {
		char log[200], listen_at[64], cmd[400];
		pid_t self = getpid();

		/* Its own group (same session, so a restart elsewhere can join it), known to the reaper before exec. */
		setpgid(0, 0);
		if (write(in->guard, &self, sizeof(self)) != sizeof(self))
			_exit(126);
		/* Nothing of the test process's (BoxFort's sockets, curl's) reaches the instance. */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		snprintf(log, sizeof(log), "%s/api.log", in->run);
		if (!freopen(log, "w", stderr))
			_exit(126);
		unset_overrides(env_text);
		snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", port);
		setenv("FLUXORI_RUN_DIR", in->run, 1);
		setenv("FLUXORI_ENV_FILE", env_path, 1);
		setenv("FLUXORI_LISTEN", listen_at, 1);
		setenv("FLUXORI_METRICS_LISTEN", in->metrics, 1);
		unsetenv("BXFI_MAP");
		snprintf(cmd, sizeof(cmd), "%s/scripts/entrypoint", getenv("FLUXORI_SRCDIR"));
		execl(cmd, cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(in->pid, in->pid);
	free(env_text);

	/*
	 * Ready when /health answers and the entrypoint has said its start is over (every
	 * instance of every group up: /health answers once each group's first one is, and a
	 * second one that came up during a test would serve it cold); failed when the
	 * entrypoint exits first.
	 */
	snprintf(url, sizeof(url), "%s/health", in->base);
	deadline = time(NULL) + START_BOUND_S;
	for (;;) {
		if (waitpid(in->pid, &status, WNOHANG) == in->pid) {
			end_instance(in, 10000); /* it is reaped; its group may not be empty */
			show_log(in);
			cr_assert_fail(
				"the extra API instance's entrypoint exited with status %d before /health answered "
				"(log: %s/api.log)",
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), in->run);
		}
		if (test_status(url) == 200 && started(in))
			return;
		if (time(NULL) > deadline) {
			end_instance(in, 10000);
			show_log(in);
			cr_assert_fail(
				"the extra API instance did not answer /health within %d s, nor exit (log: %s/api.log)",
				START_BOUND_S, in->run);
		}
		nap_ms(20);
	}
}

void instance_start(struct instance *in, const char *extra)
{
	char env_path[160];
	FILE *env;

	make_run_dir(in);
	snprintf(env_path, sizeof(env_path), "%s/env", in->run);
	env = fopen(env_path, "w");
	cr_assert_not_null(env);
	fprintf(env,
		"GOOGLE_CLOUD_PROJECT=demo-fluxori\nFIRESTORE_EMULATOR_HOST=127.0.0.1:%s\n"
		"FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:%s\nSTORAGE_EMULATOR_HOST=http://127.0.0.1:%s\n"
		"FLUXORI_AUTH_EMULATOR_TOKENS=true\n"
		"FLUXORI_BUCKET=demo-fluxori.appspot.com\nGOOGLE_APPLICATION_CREDENTIALS=%s\n"
		"FLUXORI_LOG_LEVEL=WARNING\n%s",
		test_env("FLUXORI_FIRESTORE_PORT"), test_env("FLUXORI_AUTH_PORT"), test_env("FLUXORI_STORAGE_PORT"),
		test_env("GOOGLE_APPLICATION_CREDENTIALS"), extra ? extra : "");
	fclose(env);
	spawn(in);
}

void instance_start_env(struct instance *in, const char *env_file)
{
	char env_path[160];
	FILE *env;

	make_run_dir(in);
	snprintf(env_path, sizeof(env_path), "%s/env", in->run);
	env = fopen(env_path, "w");
	cr_assert_not_null(env);
	fputs(env_file, env);
	fclose(env);
	spawn(in);
}

int instance_log_lines(const struct instance *in, const char *const *all)
{
	char path[256], *line = NULL;
	size_t cap = 0;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/api.log", in->run);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	while (getline(&line, &cap, f) >= 0) {
		bool every = true;

		for (const char *const *p = all; *p && every; p++)
			every = strstr(line, *p) != NULL;
		n += every;
	}
	free(line);
	fclose(f);
	return n;
}

int instance_warmed_up(const struct instance *in, const char *const *said)
{
	static const char *const ready[] = {"worker ready", NULL}, *const warm[] = {" warm-up", NULL};
	enum { WARM_DEADLINE = 30 };
	time_t end = time(NULL) + WARM_DEADLINE;
	int r, w;

	while ((r = instance_log_lines(in, ready)) != (w = instance_log_lines(in, warm)) && time(NULL) < end)
		nap_ms(50);
	cr_assert(r > 0 && r == w, "%d workers ready, %d warm-up lines after %d s (%s/api.log)", r, w, WARM_DEADLINE,
		  in->run);
	return instance_log_lines(in, said);
}

void instance_stop(struct instance *in)
{
	int status = 0;

	if (in->pid > 0) {
		/* The entrypoint's own stop first (nginx quits, the workers drain): up to 30 s. */
		kill(in->pid, SIGTERM);
		for (int i = 0; i < 600 && waitpid(in->pid, &status, WNOHANG) == 0; i++)
			nap_ms(50);
	}
	end_instance(in, 10000);
	test_sh("rm -rf '%s'", in->run);
}
