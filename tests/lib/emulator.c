/*
 * emulator: the runner-side lifetime of the emulator a unit-test binary
 * names in emu_fixture, and the test-side configuration that reaches it
 * (see emulator.h).
 */
#include "emulator.h"

#include "buf.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIRESTORE_DIR "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator"
#define FIRESTORE FIRESTORE_DIR "/cloud_firestore_emulator"
#define FIRESTORE_START_TIMEOUT_S 60

/* ---- the Firestore emulator, run directly ---- */

/* Google's Cloud Firestore emulator, run directly in its own process group. */
struct emu_firestore {
	pid_t pid;
	char log[256]; /* $TMPDIR/fluxori-test-<name>.<pid>.log, "" before a start */
	char hostport[64]; /* "127.0.0.1:<port>", set once the emulator answers */
};

int emu_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static size_t keep_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct fx_buf *b = ctx;

	/* Past the cap: 0 makes curl fail the transfer. */
	return fx_buf_append(b, p, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* True when GET / answers 200 "Ok". */
static bool firestore_ready(const char *hostport)
{
	char url[128];
	struct fx_buf body;
	CURL *h = curl_easy_init();
	long status = 0;
	bool ok;

	fx_buf_init(&body, 4096);
	snprintf(url, sizeof(url), "http://%s/", hostport);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	ok = curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	     status == 200 && body.data && strncmp(body.data, "Ok", 2) == 0;
	curl_easy_cleanup(h);
	fx_buf_cleanup(&body);
	return ok;
}

static void firestore_kill(struct emu_firestore *e)
{
	bool reaped = false, gone = false;

	if (e->pid <= 0)
		return;
	kill(-e->pid, SIGTERM);
	/* The script does not exec java: wait for the whole group, not just its leader. */
	for (int i = 0; i < 100 && !gone; i++) {
		if (!reaped && waitpid(e->pid, NULL, WNOHANG) == e->pid)
			reaped = true;
		gone = reaped && kill(-e->pid, 0) < 0;
		if (!gone)
			usleep(100000);
	}
	if (!gone)
		kill(-e->pid, SIGKILL);
	if (!reaped)
		waitpid(e->pid, NULL, 0);
	e->pid = 0;
}

/*
 * Starts the emulator on a free loopback port and waits up to 60 s for
 * GET / to answer 200 "Ok"; then sets port_env to "127.0.0.1:<port>" and
 * returns 0. On failure (the emulator is not installed, exits at start or
 * does not answer in time) prints why to stderr, prefixed "test_<name>: ",
 * leaves port_env unset and returns -1.
 */
static int firestore_start(struct emu_firestore *e, const char *name, const char *port_env)
{
	char hostport[64], port_arg[32];
	int port = emu_free_port(), fd;
	const char *tmp = getenv("TMPDIR");

	if (access(FIRESTORE, X_OK) != 0) {
		fprintf(stderr,
			"test_%s: %s is missing: install the Debian package "
			"google-cloud-cli-firestore-emulator\n",
			name, FIRESTORE);
		return -1;
	}
	snprintf(e->log, sizeof(e->log), "%s/fluxori-test-%s.%d.log", tmp ? tmp : "/tmp", name, (int)getpid());
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", port);
	snprintf(port_arg, sizeof(port_arg), "--port=%d", port);
	e->pid = fork();
	if (e->pid == 0) {
		setsid();
		fd = open(e->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("JAVA_TOOL_OPTIONS", "-Xmx256m", 1);
		execl(FIRESTORE, FIRESTORE, "start", "--host=127.0.0.1", port_arg, "--project_id=demo-fluxori",
		      (char *)NULL);
		_exit(127);
	}
	if (e->pid < 0) {
		e->pid = 0;
		return -1;
	}
	for (int i = 0; i < FIRESTORE_START_TIMEOUT_S * 5; i++) {
		if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
			e->pid = 0;
			fprintf(stderr, "test_%s: the emulator exited at start, see %s\n", name, e->log);
			return -1;
		}
		if (firestore_ready(hostport)) {
			snprintf(e->hostport, sizeof(e->hostport), "%s", hostport);
			setenv(port_env, hostport, 1);
			return 0;
		}
		usleep(200000);
	}
	fprintf(stderr, "test_%s: the emulator did not answer within %d s, see %s\n", name, FIRESTORE_START_TIMEOUT_S,
		e->log);
	firestore_kill(e);
	return -1;
}

/* Stops the emulator's whole process group (if running) and removes its log. */
static void firestore_stop(struct emu_firestore *e)
{
	firestore_kill(e);
	if (e->log[0])
		unlink(e->log);
}

/* ---- every emulator, through scripts/emulators ---- */

/* Every emulator of scripts/emulators, of which one test binary uses one. */
struct emu_suite {
	char rundir[256]; /* /tmp/fluxori-<name>-test.XXXXXX, "" before a start */
	bool started;
	char port[3][16]; /* indexed by enum emu_service */
};

static const char *const service_names[] = {"Firestore", "Auth", "Storage"};

static int run_script(const char *script, const char *const *args)
{
	char *argv[8];
	int n = 0, status;
	pid_t pid;

	argv[n++] = (char *)script;
	for (; *args && n < 7; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(script, argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Three distinct loopback ports free right now. */
static int free_ports(int ports[3])
{
	int fds[3] = {-1, -1, -1}, rc = 0;

	for (int i = 0; i < 3; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(a);

		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&a, &len) < 0) {
			rc = -1;
			break;
		}
		ports[i] = ntohs(a.sin_port);
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

/* Prints "test_<name>: <message>" and hands the message to the tests in error_env. */
__attribute__((format(printf, 3, 4))) static int start_error(const char *name, const char *error_env, const char *fmt,
							     ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "test_%s: %s\n", name, msg);
	setenv(error_env, msg, 1);
	return -1;
}

/*
 * Runs `$top_srcdir/scripts/emulators start` on three free loopback ports (a
 * second time on new ports if the first fails), then sets port_env to the
 * port of service and returns 0. On failure (top_srcdir unset,
 * node_modules/.bin/firebase missing, no run directory, the script failing)
 * prints why to stderr, prefixed "test_<name>: ", sets error_env to the same
 * message and returns -1. Both variables are unset first.
 */
static int suite_start(struct emu_suite *s, const char *name, enum emu_service service, const char *port_env,
		       const char *error_env)
{
	const char *top = getenv("top_srcdir");
	char script[1024], firebase[1024];
	int ports[3];

	unsetenv(port_env);
	unsetenv(error_env);
	if (!top || !*top)
		return start_error(name, error_env, "%s",
				   "top_srcdir is not set: run through `make check` or export top_srcdir=<repo>");
	snprintf(script, sizeof(script), "%s/scripts/emulators", top);
	snprintf(firebase, sizeof(firebase), "%s/node_modules/.bin/firebase", top);
	if (access(firebase, X_OK) != 0)
		return start_error(name, error_env,
				   "the %s emulator cannot start: %s is missing; run `npm ci` in the repository first",
				   service_names[service], firebase);
	snprintf(s->rundir, sizeof(s->rundir), "/tmp/fluxori-%s-test.XXXXXX", name);
	if (!mkdtemp(s->rundir))
		return start_error(name, error_env, "cannot create a run directory under %s", "/tmp");
	/* A second try covers a port taken between choosing and binding it. */
	for (int attempt = 0; attempt < 2 && !s->started; attempt++) {
		const char *args[] = {"start", s->rundir, s->port[0], s->port[1], s->port[2], NULL};

		if (free_ports(ports) < 0)
			continue;
		for (int i = 0; i < 3; i++)
			snprintf(s->port[i], sizeof(s->port[i]), "%d", ports[i]);
		s->started = run_script(script, args) == 0;
	}
	if (!s->started)
		return start_error(name, error_env, "`scripts/emulators start %s ...` failed (its messages are above)",
				   s->rundir);
	setenv(port_env, s->port[service], 1);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Runs `scripts/emulators stop` if the start succeeded and removes the run directory. */
static void suite_stop(struct emu_suite *s)
{
	const char *top = getenv("top_srcdir");
	char script[1024];
	const char *args[] = {"stop", s->rundir, NULL};

	if (!s->rundir[0])
		return;
	if (s->started && top) {
		snprintf(script, sizeof(script), "%s/scripts/emulators", top);
		run_script(script, args);
	}
	nftw(s->rundir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the binary's fixture: started before its first test, stopped after its last ---- */

static struct emu_firestore alone;
static struct emu_suite script;

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	const struct emu_fixture *f = &emu_fixture;

	(void)set;
	if (f->run == EMU_ALONE)
		firestore_start(&alone, f->name, f->port_env);
	else
		suite_start(&script, f->name, f->service, f->port_env, f->error_env);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	if (emu_fixture.run == EMU_ALONE)
		firestore_stop(&alone);
	else
		suite_stop(&script);
}

/* ---- in a test process ---- */

void emu_firestore_use(struct emu_client *c, const char *port_env)
{
	const char *hostport = getenv(port_env);

	cr_assert(hostport, "no Firestore emulator: see the message printed before the tests");
	memset(c, 0, sizeof(*c));
	snprintf(c->url, sizeof(c->url), "http://%s", hostport);
	c->cfg.project = "demo-fluxori";
	c->cfg.database = "(default)";
	c->cfg.firestore_emulator = hostport;
	c->cfg.firestore_url = c->url;
	c->cfg.http_timeout_ms = 60000;
	c->cfg.connect_timeout_ms = 1000;
	fx_config_set(&c->cfg);
}

const char *emu_suite_port(enum emu_service service, const char *port_env, const char *error_env)
{
	const char *fail = getenv(error_env), *port = getenv(port_env);

	if (fail)
		cr_assert_fail("%s", fail);
	cr_assert(port, "the %s emulator was not started (no %s)", service_names[service], port_env);
	return port;
}
