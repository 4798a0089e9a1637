/*
 * The container's start path, run directly (no Docker engine here):
 * scripts/entrypoint starts the workers and nginx; SIGTERM under load (wrk,
 * 64 connections) lets a slow request in flight finish, answers no request
 * with an error, then everything exits and the port closes: later requests
 * are refused at connect.
 * Firestore is played by a local server that holds its answer until the
 * test has sent SIGTERM, so GET /health/ready is a request that is still
 * running at SIGTERM, whatever the machine's speed. The entrypoint runs
 * under instance.c's guard: whatever fails here, nothing it started
 * survives the test.
 */
#include "client.h"
#include "instance.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	listen(fd, 64);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

/* The request has reached "Firestore"; the test has sent SIGTERM (then it may answer). */
static atomic_int arrived, released;

static void *slow_firestore(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		static const char answer[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
					     "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
		char buf[4096];
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		if (read(fd, buf, sizeof(buf)) > 0) {
			atomic_store(&arrived, 1);
			/* Held until SIGTERM is sent, within the worker's 2 s budget for the call. */
			for (int i = 0; i < 1500 && !atomic_load(&released); i++)
				usleep(1000);
			usleep(200 * 1000);
			if (write(fd, answer, sizeof(answer) - 1) < 0)
				perror("write");
		}
		close(fd);
	}
}

struct inflight {
	char url[256];
	long status;
};

static void *get_ready(void *arg)
{
	struct inflight *f = arg;
	struct http_resp *r = http_url("GET", f->url, NULL, NULL, 0);

	f->status = r->status;
	http_resp_free(r);
	return NULL;
}

static long get_status(const char *url)
{
	struct http_resp *r = http_url("GET", url, NULL, NULL, 0);
	long s = r->status;

	http_resp_free(r);
	return s;
}

Test(entrypoint, sigterm_under_load_finishes_what_is_in_flight_then_exits, .timeout = 120)
{
	char env[512], url[256], cmd[600], wrk_out[320], *text;
	struct wrk_result w;
	struct instance in;
	int lfd, fs_port, status = 0;
	struct inflight f = {0};
	pthread_t slow, t;
	pid_t pid;

	lfd = listen_any(&fs_port);
	pthread_create(&slow, NULL, slow_firestore, &lfd);
	pthread_detach(slow);
	snprintf(env, sizeof(env),
		 "GOOGLE_CLOUD_PROJECT=demo-fluxori\nFIRESTORE_EMULATOR_HOST=127.0.0.1:%d\n"
		 "FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:%s\nFLUXORI_LOG_LEVEL=WARNING\n",
		 fs_port, test_env("FLUXORI_AUTH_PORT"));
	instance_start_env(&in, env);
	pid = in.pid;
	snprintf(url, sizeof(url), "%s/health", in.base);

	/* Load that outlasts the shutdown: after it, wrk's connects are refused. */
	snprintf(wrk_out, sizeof(wrk_out), "%s/wrk.out", in.run);
	cr_assert_eq(
		test_sh("wrk -t2 -c64 -d5s --timeout 4s '%s' >'%s' 2>&1 & echo $! >'%s.pid'", url, wrk_out, wrk_out),
		0);
	usleep(1000 * 1000);
	snprintf(f.url, sizeof(f.url), "%s/health/ready", in.base);
	pthread_create(&t, NULL, get_ready, &f);
	/* Until the request waits on the slow Firestore (bounded). */
	for (int i = 0; i < 60000 && !atomic_load(&arrived); i++)
		usleep(1000);
	cr_assert(atomic_load(&arrived), "GET /health/ready reached Firestore");
	kill(pid, SIGTERM);
	atomic_store(&released, 1);
	pthread_join(t, NULL);
	cr_assert_eq(f.status, 200, "the request in flight at SIGTERM completed (status %ld)", f.status);

	/* Cloud Run's grace period: everything is down within 10 s of SIGTERM. */
	for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	cr_assert(WIFEXITED(status), "the entrypoint exited within 10 s of SIGTERM");
	in.pid = 0; /* reaped: instance_stop must not signal its pid again */
	cr_assert_eq(WEXITSTATUS(status), 0);
	cr_assert_eq(get_status(url), 0, "nothing listens any more: new requests are refused");
	cr_assert_eq(test_sh("while kill -0 $(cat '%s.pid') 2>/dev/null; do sleep 0.2; done", wrk_out), 0);
	text = test_slurp(wrk_out);
	cr_assert_eq(wrk_parse(text, &w), 0, "%s", text);
	fprintf(stderr,
		"entrypoint: wrk through SIGTERM: %ld requests, %ld non-2xx, connect %ld, read %ld, timeout %ld\n",
		w.requests, w.non2xx, w.connect, w.read, w.timeout);
	cr_assert_gt(w.requests, 0, "%s", text);
	cr_expect_eq(w.non2xx, 0, "no request answered with an error while draining: %s", text);
	cr_expect_eq(w.timeout, 0, "no request hung: %s", text);
	free(text);
	snprintf(cmd, sizeof(cmd), "\"$FLUXORI_SRCDIR/scripts/survivors\" '%s' >&2", in.run);
	cr_assert_eq(test_sh("%s", cmd), 0, "no process of that run is left (above: the ones that are)");
	instance_stop(&in);
}
