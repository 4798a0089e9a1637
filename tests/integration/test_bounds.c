/*
 * Inputs at and past the bounds that size memory, through nginx (issue 12,
 * defects 1 to 3): a mebibyte of JSON keys, a search of forty four-byte
 * characters, and a stored content type that fills a response header. Each
 * must get the contract's answer from a worker that keeps running: restarts
 * are counted by the control script and by /metrics, and a worker's memory
 * is read from its peak resident size (VmHWM), never from a clock.
 */
#include "client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_error(struct http_resp *r, long code, const char *status)
{
	cr_assert_eq(r->status, code, "expected %ld, got %ld: %.300s", code, r->status, r->body);
	cr_assert_str_eq(json_str(r, "error.status"), status, "%.300s", r->body);
	cr_assert_not_null(json_str(r, "error.requestId"), "%.300s", r->body);
}

/* The first line a shell command prints, into out. */
static void sh_line(char *out, size_t len, const char *cmd)
{
	FILE *p = popen(cmd, "r");

	cr_assert_not_null(p, "%s", cmd);
	if (!fgets(out, (int)len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/* A worker group as `fluxorictl status` shows it, and its processes' peak memory. */
struct group_state {
	long pids[2];
	long restarts;
	long long peak_kib; /* VmHWM summed over both instances */
};

static void group_state(const char *group, struct group_state *g)
{
	char cmd[512], line[512];
	const char *p;

	snprintf(cmd, sizeof(cmd), "\"$FLUXORI_SRCDIR/scripts/fluxorictl\" status | grep '^%s '", group);
	sh_line(line, sizeof(line), cmd);
	p = strstr(line, "pids=");
	cr_assert_not_null(p, "fluxorictl status shows %s: %s", group, line);
	cr_assert_eq(sscanf(p, "pids=%ld,%ld", &g->pids[0], &g->pids[1]), 2, "both instances of %s run: %s", group,
		     line);
	p = strstr(line, "restarts=");
	cr_assert_not_null(p, "%s", line);
	g->restarts = strtol(p + strlen("restarts="), NULL, 10);
	g->peak_kib = 0;
	for (int i = 0; i < 2; i++) {
		char path[64], status[256];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%ld/status", g->pids[i]);
		f = fopen(path, "r");
		cr_assert_not_null(f, "%s", path);
		while (fgets(status, sizeof(status), f)) {
			long long kib;

			if (sscanf(status, "VmHWM: %lld kB", &kib) == 1)
				g->peak_kib += kib;
		}
		fclose(f);
	}
}

static double restarts_metric(const char *group)
{
	char series[128];

	snprintf(series, sizeof(series), "fluxori_worker_restarts_total{group=\"%s\"}", group);
	return test_metric(series);
}

/* {"0":0,"1":0,...} of just under limit bytes; with a repeat of "0" at the end when dup. */
static char *many_keys(size_t limit, bool dup, size_t *len)
{
	char *b = malloc(limit + 1);
	size_t n = 0;

	cr_assert_not_null(b);
	b[n++] = '{';
	for (int i = 0;; i++) {
		char k[32];
		int w = snprintf(k, sizeof(k), "%s\"%d\":0", i ? "," : "", i);

		if (n + (size_t)w + 8 > limit)
			break;
		memcpy(b + n, k, (size_t)w);
		n += (size_t)w;
	}
	if (dup) {
		memcpy(b + n, ",\"0\":1", 6);
		n += 6;
	}
	b[n++] = '}';
	b[n] = '\0';
	*len = n;
	return b;
}

/*
 * Defect 1: the strict JSON scanner took a buffer the size of the rest of
 * the body per key and kept them all: ~440 MiB and seconds of CPU for one
 * mebibyte. Both bodies (unknown keys; a duplicate key half a mebibyte from
 * its first occurrence) must be the contract's 400 from a worker whose peak
 * memory grew by less than 64 MiB and that was not restarted.
 */
static void mebibyte_of_keys(const char *method, const char *path, const char *group)
{
	struct test_user u;
	struct group_state before, after;
	double metric_before = restarts_metric(group);

	cr_assert_eq(test_user_signup(&u, "keys"), 0);
	group_state(group, &before);
	for (int dup = 0; dup < 2; dup++) {
		size_t n;
		char *body = many_keys(1024 * 1024, dup, &n);
		struct http_resp *r = http_do(method, path, u.id_token, "application/json", body, n, NULL);

		assert_error(r, 400, "INVALID_ARGUMENT");
		if (dup)
			cr_assert(strstr(json_str(r, "error.message"), "duplicate key \"0\""), "%.300s", r->body);
		http_resp_free(r);
		free(body);
	}
	group_state(group, &after);
	cr_assert_eq(after.pids[0], before.pids[0], "instance a of %s is the same process", group);
	cr_assert_eq(after.pids[1], before.pids[1], "instance b of %s is the same process", group);
	cr_assert_eq(after.restarts, before.restarts, "fluxorictl counts no restart of %s", group);
	cr_assert_eq(restarts_metric(group), metric_before, "/metrics counts no restart of %s", group);
	cr_assert_lt(after.peak_kib - before.peak_kib, 64 * 1024,
		     "two 1 MiB bodies raised the peak memory of %s by %lld KiB", group,
		     after.peak_kib - before.peak_kib);
}

Test(json, a_mebibyte_of_keys_to_patch_users_me_is_400_in_bounded_memory, .timeout = 120)
{
	mebibyte_of_keys("PATCH", "/v1/users/me", "users");
}

Test(json, a_mebibyte_of_keys_to_post_organizations_is_400_in_bounded_memory, .timeout = 120)
{
	mebibyte_of_keys("POST", "/v1/organizations", "organizations");
}
