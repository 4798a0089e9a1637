/*
 * bench/firstanswer.c: exec a command, then poll one URL on loopback until it
 * answers an expected status; prints the milliseconds from just before the
 * exec to that answer, and to the command's exit.
 *
 *   firstanswer PORT METHOD PATH STATUS HEADER --|--term COMMAND [ARGS...]
 *   firstanswer file:PATH - - - - -- COMMAND [ARGS...]
 *
 * HEADER is one request header line ("" for none). With file:PATH the
 * "answer" is PATH existing (a worker's FLUXORI_READY_FILE), and the command
 * (the worker itself) is sent SIGTERM then; so is a command that serves
 * until told to stop (scripts/entrypoint) given after --term. Polls with a fresh
 * connection (Connection: close) every 0.5 ms after each answer or refused
 * connect; gives up after 30 s. Output: "first_ms exit_ms polls exit_status".
 * Built by bench/startup with cc; needs nothing but libc.
 */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* One request; the answer's status, or -1. */
static int status_of(int port, const char *req)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	char buf[64];
	size_t got = 0;
	ssize_t n;
	int fd, st = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		buf[got] = 0;
		if (got > 12 && strncmp(buf, "HTTP/1.", 7) == 0)
			st = (int)strtol(buf + 9, NULL, 10);
	}
	close(fd);
	return st;
}

int main(int argc, char **argv)
{
	char req[16384];
	double t0, first = -1, done = -1;
	int port, want, polls = 0, wst = 0, exited = 0, term;
	const char *file = NULL;
	struct stat st;
	pid_t pid;

	if (argc < 8 || (strcmp(argv[6], "--") != 0 && strcmp(argv[6], "--term") != 0)) {
		fprintf(stderr,
			"usage: firstanswer PORT|file:PATH METHOD PATH STATUS HEADER --|--term COMMAND [ARGS...]\n");
		return 64;
	}
	if (strncmp(argv[1], "file:", 5) == 0)
		file = argv[1] + 5;
	term = file || strcmp(argv[6], "--term") == 0;
	port = (int)strtol(argv[1], NULL, 10);
	want = (int)strtol(argv[4], NULL, 10);
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s\r\n", argv[2],
		 argv[3], argv[5], *argv[5] ? "\r\n" : "");
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return 70;
	if (pid == 0) {
		execvp(argv[7], argv + 7);
		_exit(127);
	}
	while (now_ms() - t0 < 30000) {
		if (!exited && waitpid(pid, &wst, WNOHANG) == pid) {
			exited = 1;
			done = now_ms() - t0;
		}
		if (first < 0) {
			polls++;
			if (file ? stat(file, &st) == 0 : status_of(port, req) == want) {
				first = now_ms() - t0;
				if (term)
					kill(pid, SIGTERM);
			}
		}
		if (first >= 0 && exited)
			break;
		usleep(500);
	}
	if (!exited) {
		if (term && first < 0)
			kill(pid, SIGTERM); /* it never answered: still stop it */
		waitpid(pid, &wst, 0);
		done = now_ms() - t0;
	}
	printf("%.1f %.1f %d %d\n", first, done, polls, WIFEXITED(wst) ? WEXITSTATUS(wst) : 128);
	return first < 0;
}
