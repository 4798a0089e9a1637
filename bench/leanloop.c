/*
 * bench/leanloop.c: what one lean fx_httpc_do (fx_httpc_req.lean, every
 * Firestore call's path) costs the calling thread's CPU, against an upstream
 * in this process that answers each request on one kept plain-http
 * connection with a fixed 2-byte JSON answer (branch leantls: the idle check
 * before each call). No emulator, no network. Built by hand against a
 * tree's libfluxori (as bench/rawconn.c), not part of the product:
 *
 *   . bench/lib.sh && here=$PWD && bench_cc /tmp/leanloop bench/leanloop.c
 *   /tmp/leanloop [N] [ROUNDS]
 *
 * Prints, per round of N calls (default 20,000; 500 calls of warm-up
 * first), the calling thread's CPU µs per call (CLOCK_THREAD_CPUTIME_ID:
 * the upstream's thread not counted). Compare two trees' builds alternating,
 * under the bench lock.
 */
#include "httpc.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int lfd, port;

static void *serve(void *arg)
{
	static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
	char in[8192];
	int fd;
	(void)arg;
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		size_t have = 0;
		for (;;) {
			ssize_t n = read(fd, in + have, sizeof(in) - have);
			char *end;
			if (n <= 0)
				break;
			have += (size_t)n;
			while ((end = memmem(in, have, "\r\n\r\n", 4))) {
				if (write(fd, ans, sizeof(ans) - 1) < 0)
					break;
				have -= (size_t)(end + 4 - in);
				memmove(in, end + 4, have);
			}
		}
		close(fd);
	}
	return NULL;
}

static double cpu_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000, rounds = argc > 2 ? atoi(argv[2]) : 3;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	static const char *const hdrs[] = {"Authorization: Bearer x", "Accept: application/json", NULL};
	char url[128];
	pthread_t t;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen))
		return 1;
	port = ntohs(a.sin_port);
	pthread_create(&t, NULL, serve, NULL);
	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%d/v1/projects/p/databases/(default)/documents/x?mask.fieldPaths=a", port);
	for (int r = -1; r < rounds; r++) {
		double t0 = cpu_us();
		int calls = r < 0 ? 500 : n;
		for (int i = 0; i < calls; i++) {
			struct fx_httpc_req req = {
				.url = url, .headers = hdrs, .timeout_ms = 4000, .service = "bench", .lean = true};
			struct fx_httpc_resp resp;
			struct fx_err e;
			fx_httpc_resp_init(&resp);
			if (fx_httpc_do(&req, &resp, &e) < 0 || resp.status != 200) {
				fprintf(stderr, "call failed\n");
				return 1;
			}
			fx_httpc_resp_cleanup(&resp);
		}
		if (r >= 0)
			printf("%.2f\n", (cpu_us() - t0) / n);
	}
	return 0;
}
