/*
 * bench/firstanswer.c: exec a command, then poll several probes at once until
 * each gives its expected answer; prints the milliseconds from just before the
 * exec to each probe's first expected answer, and to the command's exit.
 *
 *   firstanswer PROBES --|--term COMMAND [ARGS...]
 *
 * PROBES is a file, one probe a line:
 *   NAME INTERVAL_MS PORT METHOD PATH STATUS [HEADER...]
 *   NAME INTERVAL_MS file:PATH
 * The first polls http://127.0.0.1:PORT/PATH (a fresh connection, Connection:
 * close, the rest of the line as one request header) until it answers STATUS;
 * the second waits for PATH to exist (a worker's FLUXORI_READY_FILE). Each
 * probe polls in its own thread, INTERVAL_MS after each answer or refused
 * connect, so a probe whose request waits in a worker's backlog delays no
 * other. With --term the command (one that serves until told to stop:
 * scripts/entrypoint, a worker) is sent SIGTERM once every probe has answered.
 * Gives up 30 s after the exec, or when a --term command exits by itself. Output: "exit_ms exit_status" on the first
 * line, then "NAME first_ms polls last_status" per probe (first_ms -1: never).
 * Exits 1 if a probe never answered. Built by bench/startup with cc -pthread.
 *   With FIRSTANSWER_TRACE=FILE every attempt is appended to FILE as
 * "NAME start_ms end_ms status" (ms from just before the exec; status -1: the
 * connect failed, with its errno as "-1/ERRNO"), to see what a probe got before
 * its expected answer and when.
 */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROBES 32
#define GIVE_UP_MS 30000.0

struct probe {
	char name[64];
	char file[512]; /* file:PATH probes */
	char req[4096];
	int port, want, interval_us, polls, last;
	double first;
	pthread_t thread;
};

static struct probe probes[MAX_PROBES];
static int nprobes;
static double t0;
static FILE *trace; /* FIRSTANSWER_TRACE */
static atomic_int answered, gone; /* gone: the command exited by itself under --term */

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* One request; the answer's status, or -1 (*conn_errno: the connect's errno, 0 if it connected). */
static int status_of(int port, const char *req, int *conn_errno)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	char buf[64];
	size_t got = 0;
	ssize_t n;
	int fd, st = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*conn_errno = 0;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		*conn_errno = errno;
	else if (write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		buf[got] = 0;
		if (got > 12 && strncmp(buf, "HTTP/1.", 7) == 0)
			st = (int)strtol(buf + 9, NULL, 10);
	}
	close(fd);
	return st;
}

static void *poll_probe(void *arg)
{
	struct probe *p = arg;
	struct stat st;
	double start;
	int cerr = 0;

	while (now_ms() - t0 < GIVE_UP_MS && !atomic_load(&gone)) {
		p->polls++;
		start = now_ms() - t0;
		if (p->file[0])
			p->last = stat(p->file, &st) == 0 ? 0 : -1;
		else
			p->last = status_of(p->port, p->req, &cerr);
		if (trace && cerr)
			fprintf(trace, "%s %.3f %.3f -1/%d\n", p->name, start, now_ms() - t0, cerr);
		else if (trace)
			fprintf(trace, "%s %.3f %.3f %d\n", p->name, start, now_ms() - t0, p->last);
		if (p->file[0] ? p->last == 0 : p->last == p->want) {
			p->first = now_ms() - t0;
			break;
		}
		usleep((useconds_t)p->interval_us);
	}
	atomic_fetch_add(&answered, 1);
	return NULL;
}

/* One PROBES line into probes[nprobes]; -1 if it is malformed. */
static int parse_probe(char *line)
{
	struct probe *p = &probes[nprobes];
	char target[600], method[16], path[2048];
	double interval;
	int used = 0;

	line[strcspn(line, "\n")] = 0;
	if (sscanf(line, "%63s %lf %599s%n", p->name, &interval, target, &used) != 3 || interval <= 0)
		return -1;
	p->interval_us = (int)(interval * 1000);
	p->first = -1;
	if (strncmp(target, "file:", 5) == 0) {
		if (snprintf(p->file, sizeof(p->file), "%s", target + 5) >= (int)sizeof(p->file))
			return -1;
	} else {
		const char *hdr = line + used;
		int more = 0;

		p->port = (int)strtol(target, NULL, 10);
		if (sscanf(hdr, "%15s %2047s %d%n", method, path, &p->want, &more) != 3)
			return -1;
		hdr += more;
		while (*hdr == ' ')
			hdr++;
		if (snprintf(p->req, sizeof(p->req),
			     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s\r\n", method, path, hdr,
			     *hdr ? "\r\n" : "") >= (int)sizeof(p->req))
			return -1;
	}
	nprobes++;
	return 0;
}

int main(int argc, char **argv)
{
	char line[4096];
	double done = -1;
	int wst = 0, exited = 0, term, missed = 0;
	FILE *f;
	pid_t pid;

	if (argc < 4 || (strcmp(argv[2], "--") != 0 && strcmp(argv[2], "--term") != 0)) {
		fprintf(stderr, "usage: firstanswer PROBES --|--term COMMAND [ARGS...]\n");
		return 64;
	}
	term = strcmp(argv[2], "--term") == 0;
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 66;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (nprobes == MAX_PROBES || parse_probe(line) < 0) {
			fprintf(stderr, "firstanswer: bad or too many probes at: %s\n", line);
			fclose(f);
			return 64;
		}
	}
	fclose(f);
	if (getenv("FIRSTANSWER_TRACE") && !(trace = fopen(getenv("FIRSTANSWER_TRACE"), "ae"))) {
		perror(getenv("FIRSTANSWER_TRACE"));
		return 73;
	}
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return 70;
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		_exit(127);
	}
	for (int i = 0; i < nprobes; i++)
		pthread_create(&probes[i].thread, NULL, poll_probe, &probes[i]);
	/* Every probe answered (or gave up), and the command exited, or it is told to stop. */
	while (atomic_load(&answered) < nprobes || !exited) {
		if (!exited && waitpid(pid, &wst, WNOHANG) == pid) {
			exited = 1;
			done = now_ms() - t0;
			if (term)
				atomic_store(&gone, 1); /* it should have served until told to stop */
		}
		if (!exited && atomic_load(&answered) == nprobes) {
			if (term)
				kill(pid, SIGTERM);
			waitpid(pid, &wst, 0);
			exited = 1;
			done = now_ms() - t0;
		}
		usleep(500);
	}
	printf("%.1f %d\n", done, WIFEXITED(wst) ? WEXITSTATUS(wst) : 128);
	for (int i = 0; i < nprobes; i++) {
		pthread_join(probes[i].thread, NULL);
		printf("%s %.1f %d %d\n", probes[i].name, probes[i].first, probes[i].polls, probes[i].last);
		missed += probes[i].first < 0;
	}
	if (trace)
		fclose(trace);
	return missed > 0;
}
