/*
 * supervise: the supervisors of scripts/fluxorictl's units, one process each.
 *
 *   supervise HOME_PGID STATE SOCK BIN UNIT GEN [UNIT GEN ...]
 *   supervise --link SOCK NAME TARGET [NAME TARGET ...]
 *
 * For each UNIT (GROUP.a, GROUP.b) and generation GEN it forks one supervisor,
 * which runs `spawn-fcgi -n -s SOCK/UNIT.GEN.sock -M 0600 -b 1024 --
 * [$FLUXORI_WORKER_WRAPPER] BIN/fluxori-GROUP` with FLUXORI_READY_FILE set to
 * STATE/UNIT.GEN.ready, and restarts it whenever it dies, until
 * STATE/UNIT.GEN.stop exists. A worker that exits before this generation was
 * ever ready is not restarted: the supervisor writes its exit status to
 * STATE/UNIT.GEN.failed and ends (fluxorictl fails the start at once). A
 * restart is counted in STATE/GROUP.restarts under the flock of
 * STATE/GROUP.restarts.lock; crash loops back off (a pause of a second after
 * the fourth restart in a row that came within 2 s of its start).
 *
 * Every supervisor writes its pid to STATE/UNIT.GEN.super before anything
 * else, and the worker's (spawn-fcgi execs it: one pid) to STATE/UNIT.GEN.pid
 * at each start, each by a rename (a reader never sees it empty); this command
 * exits once every supervisor has written its .super file, so its caller
 * reads them at once. On its way out a supervisor removes the generation's
 * .pid, .super, .stop and .ready files and its socket.
 *
 * --link points each SOCK/NAME at TARGET (a symbolic link, made as SOCK/.NAME.tmp
 * and renamed over NAME: nginx sees the old link or the new one, never none),
 * in the order given; it stops at the first that fails, with status 1.
 *
 * The supervisors join the process group HOME_PGID, the stack's (fluxorictl
 * says why), or get one of their own when it is out of reach. SIGINT and
 * SIGQUIT are ignored by them and by their workers (as bash does for a
 * command started with &: a terminal's ^C reaches fluxorictl, which stops
 * what it started); every other signal has its default action. Descriptors
 * above 2 are closed: a worker holds only its socket (0) and the stack's log
 * (1, 2).
 *
 * Why a program, not a bash function: on the container's start path every
 * unit's supervisor was a fork of fluxorictl's bash, which then forked again
 * for spawn-fcgi; where a page fault or a fork costs what it costs under
 * Cloud Run's sandbox, those forks were more of a cold start's CPU than the
 * workers' own (docs/performance.md). Here fluxorictl forks once for all the
 * units it launches, and each supervisor starts its worker with vfork.
 */
#include "num.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATH_BYTES 4096
#define MAX_WRAP_WORDS 32
#define MSG_BYTES 512
#define READY_VAR "FLUXORI_READY_FILE="
#define GNUTLS_VAR "GNUTLS_NO_IMPLICIT_INIT="

extern char **environ;

static const char *state_dir, *sock_dir, *bin_dir;

/* One Cloud Logging JSON line on stderr, as fluxorictl's log (its words are units, numbers and strerror's). */
static void log_line(const char *severity, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const char *severity, const char *fmt, ...)
{
	char msg[MSG_BYTES];
	va_list ap;

	va_start(ap, fmt);
	fx_str_vtext(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2,
		"{\"severity\":\"%s\",\"message\":\"%s\",\"logging.googleapis.com/"
		"labels\":{\"group\":\"fluxorictl\"}}\n",
		severity, msg);
}

static int path_of(char path[PATH_BYTES], const char *unit, const char *gen, const char *suffix)
{
	if (fx_str_fmt(path, PATH_BYTES, "%s/%s.%s.%s", state_dir, unit, gen, suffix) < 0) {
		log_line("ERROR", "supervise: a path of %s is over %d bytes", unit, PATH_BYTES);
		return -1;
	}
	return 0;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Writes "N\n" to path through path.tmp and a rename: a reader sees the old file or the whole new one. */
static int write_number(const char *path, long long n)
{
	char tmp[PATH_BYTES], text[32];
	int fd, len;

	if (fx_str_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0 || fx_str_fmt(text, sizeof(text), "%lld\n", n) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	len = (int)strlen(text);
	if (write(fd, text, (size_t)len) != len) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* One more restart of group in STATE/GROUP.restarts, under the lock every fluxorictl takes for it. */
static void count_restart(const char *group)
{
	char lock[PATH_BYTES], path[PATH_BYTES], text[32] = "";
	const char *why;
	int64_t n = 0;
	ssize_t got;
	int lfd, fd;

	if (fx_str_fmt(lock, sizeof(lock), "%s/%s.restarts.lock", state_dir, group) < 0 ||
	    fx_str_fmt(path, sizeof(path), "%s/%s.restarts", state_dir, group) < 0)
		return;
	lfd = open(lock, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		got = read(fd, text, sizeof(text) - 1);
		close(fd);
		text[got > 0 ? got : 0] = '\0';
		text[strcspn(text, "\n")] = '\0';
		if (fx_num_parse(text, 0, INT64_MAX - 1, &n, &why) < 0)
			n = 0;
	}
	if (write_number(path, n + 1) < 0)
		log_line("WARNING", "supervise: the restart of %s could not be counted", group);
out:
	if (lfd >= 0)
		close(lfd);
}

/* The environment of spawn-fcgi: ours, with FLUXORI_READY_FILE and GNUTLS_NO_IMPLICIT_INIT set. */
static char **worker_env(const char *ready_var)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], READY_VAR, sizeof(READY_VAR) - 1) != 0 &&
		    strncmp(environ[i], GNUTLS_VAR, sizeof(GNUTLS_VAR) - 1) != 0)
			env[k++] = environ[i];
	env[k++] = (char *)ready_var;
	/*
	 * Debian's libcurl pulls in GnuTLS (through librtmp and libldap) though our handles speak only
	 * http and https through OpenSSL; its load-time initialisation would touch ~640 KiB of its
	 * pages in every worker for nothing (where handlers/shim does not stand in for them).
	 */
	env[k++] = (char *)GNUTLS_VAR "1";
	env[k] = NULL;
	return env;
}

/*
 * Starts spawn-fcgi for the unit; the worker's pid, or -1. The words of
 * FLUXORI_WORKER_WRAPPER (split at blanks, as fluxorictl's unquoted $WRAP was)
 * come before the binary.
 */
static pid_t start_worker(const char *group, const char *sock, char **env)
{
	char binary[PATH_BYTES], wrap[PATH_BYTES], *argv[12 + MAX_WRAP_WORDS], *save = NULL, *w;
	const char *wrapper = getenv("FLUXORI_WORKER_WRAPPER");
	posix_spawnattr_t attr;
	sigset_t all, none;
	size_t n = 0;
	pid_t pid;
	int rc;

	if (fx_str_fmt(binary, sizeof(binary), "%s/fluxori-%s", bin_dir, group) < 0 ||
	    fx_str_set(wrap, sizeof(wrap), wrapper ? wrapper : "") < 0) {
		log_line("ERROR", "supervise: the path of %s's binary or FLUXORI_WORKER_WRAPPER is over %d bytes",
			 group, PATH_BYTES);
		return -1;
	}
	argv[n++] = (char *)"spawn-fcgi";
	argv[n++] = (char *)"-n";
	argv[n++] = (char *)"-s";
	argv[n++] = (char *)sock;
	argv[n++] = (char *)"-M";
	argv[n++] = (char *)"0600";
	argv[n++] = (char *)"-b";
	argv[n++] = (char *)"1024";
	argv[n++] = (char *)"--";
	for (w = strtok_r(wrap, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (n >= 9 + MAX_WRAP_WORDS) {
			log_line("ERROR", "supervise: FLUXORI_WORKER_WRAPPER has over %d words", MAX_WRAP_WORDS);
			return -1;
		}
		argv[n++] = w;
	}
	argv[n++] = binary;
	argv[n] = NULL;

	/* Every signal's default action but SIGINT's and SIGQUIT's (ignored here, so in the worker too). */
	sigfillset(&all);
	sigdelset(&all, SIGINT);
	sigdelset(&all, SIGQUIT);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawnp(&pid, "spawn-fcgi", NULL, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		log_line("ERROR", "supervise: spawn-fcgi for %s: %s", group, strerror(rc));
		return -1;
	}
	return pid;
}

/* A unit is GROUP.INSTANCE in [a-z0-9._-], a generation digits: names of files, never paths. */
static bool valid_unit(const char *unit, const char *gen)
{
	return unit[0] != '\0' && unit[0] != '.' &&
	       unit[strspn(unit, "abcdefghijklmnopqrstuvwxyz0123456789._-")] == '\0' && strchr(unit, '.') &&
	       gen[0] != '\0' && gen[strspn(gen, "0123456789")] == '\0';
}

/* fluxorictl's supervise loop for one generation of a unit; the process's exit status. */
static int supervise(const char *unit, const char *gen)
{
	char group[64], sock[PATH_BYTES], ready[PATH_BYTES], ready_var[PATH_BYTES + 32], pidf[PATH_BYTES],
		stop[PATH_BYTES], failed[PATH_BYTES], super[PATH_BYTES];
	const char *dot = strrchr(unit, '.');
	bool been_ready = false;
	int quick = 0, status, rc;
	char **env;
	time_t started;
	pid_t pid;

	if (!dot || fx_str_copy(group, sizeof(group), unit, (size_t)(dot - unit)) < 0 ||
	    fx_str_fmt(sock, sizeof(sock), "%s/%s.%s.sock", sock_dir, unit, gen) < 0 ||
	    path_of(ready, unit, gen, "ready") < 0 || path_of(pidf, unit, gen, "pid") < 0 ||
	    path_of(stop, unit, gen, "stop") < 0 || path_of(failed, unit, gen, "failed") < 0 ||
	    path_of(super, unit, gen, "super") < 0 ||
	    fx_str_fmt(ready_var, sizeof(ready_var), READY_VAR "%s", ready) < 0) {
		log_line("ERROR", "supervise: a path of %s is over %d bytes", unit, PATH_BYTES);
		return 1;
	}
	env = worker_env(ready_var);
	if (!env)
		return 1;
	for (;;) {
		unlink(ready);
		started = time(NULL);
		pid = start_worker(group, sock, env);
		if (pid < 0) {
			rc = 127; /* as bash's for a command it cannot run */
		} else {
			if (write_number(pidf, pid) < 0)
				log_line("WARNING", "supervise: %s: cannot write its pid file", unit);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
		}
		if (exists(stop))
			break;
		if (exists(ready))
			been_ready = true;
		if (!been_ready) {
			log_line("ERROR", "worker %s (generation %s) exited with status %d before it was ready", unit,
				 gen, rc);
			write_number(failed, rc);
			unlink(pidf);
			free(env);
			return 0;
		}
		log_line("WARNING", "worker %s (generation %s) exited with status %d: restarting", unit, gen, rc);
		count_restart(group);
		/* Crash loops back off; a single crash restarts at once. */
		quick = time(NULL) - started < 2 ? quick + 1 : 0;
		if (quick > 3)
			sleep(1);
	}
	unlink(pidf);
	unlink(super);
	unlink(stop);
	unlink(ready);
	unlink(sock);
	free(env);
	return 0;
}

/* supervise --link: each NAME -> TARGET in dir, atomically; 0, or 1 at the first failure. */
static int link_all(const char *dir, int n, char **pairs)
{
	char tmp[PATH_BYTES];

	if (chdir(dir) < 0) {
		log_line("ERROR", "supervise --link: %s", strerror(errno));
		return 1;
	}
	for (int i = 0; i + 1 < n; i += 2) {
		if (strchr(pairs[i], '/') || fx_str_fmt(tmp, sizeof(tmp), ".%s.tmp", pairs[i]) < 0) {
			log_line("ERROR", "supervise --link: a name is a file's name, not a path");
			return 1;
		}
		unlink(tmp);
		if (symlink(pairs[i + 1], tmp) < 0 || rename(tmp, pairs[i]) < 0) {
			log_line("ERROR", "supervise --link: link %s: %s", pairs[i], strerror(errno));
			unlink(tmp);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *why;
	int64_t home = 0;
	int gate[2];
	pid_t pid;
	char c;

	if (argc >= 5 && argc % 2 == 1 && strcmp(argv[1], "--link") == 0)
		return link_all(argv[2], argc - 3, argv + 3);
	if (argc < 7 || (argc - 5) % 2 != 0 || fx_num_parse(argv[1], 0, INT_MAX, &home, &why) < 0) {
		fputs("usage: supervise HOME_PGID STATE SOCK BIN UNIT GEN [UNIT GEN ...]\n"
		      "       supervise --link SOCK NAME TARGET [NAME TARGET ...]\n",
		      stderr);
		return 64;
	}
	state_dir = argv[2];
	sock_dir = argv[3];
	bin_dir = argv[4];
	/* The stack's process group (fluxorictl home_group), or a group of our own where it is out of reach. */
	if (home > 0 && getpgrp() != (pid_t)home && setpgid(0, (pid_t)home) < 0)
		setpgid(0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (pipe2(gate, O_CLOEXEC) < 0) {
		log_line("ERROR", "supervise: pipe: %s", strerror(errno));
		return 1;
	}
	for (int i = 5; i + 1 < argc; i += 2)
		if (!valid_unit(argv[i], argv[i + 1])) {
			log_line("ERROR", "supervise: a unit is GROUP.INSTANCE in [a-z0-9._-], a generation digits");
			return 64;
		}
	for (int i = 5; i + 1 < argc; i += 2) {
		pid = fork();
		if (pid < 0) {
			log_line("ERROR", "supervise: fork for %s: %s", argv[i], strerror(errno));
			break;
		}
		if (pid == 0) {
			char super[PATH_BYTES];

			if (path_of(super, argv[i], argv[i + 1], "super") < 0 || write_number(super, getpid()) < 0)
				_exit(1);
			/* Nothing but 0, 1 and 2 from here: this closes the gate's ends too. */
			closefrom(3);
			_exit(supervise(argv[i], argv[i + 1]));
		}
	}
	/* Every supervisor has written its .super file, or is gone, once the gate's last write end closes. */
	close(gate[1]);
	while (read(gate[0], &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}
