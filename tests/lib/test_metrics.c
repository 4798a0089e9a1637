#include "metrics.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int h(struct fx_req *r, struct fx_err *e)
{
	(void)r;
	(void)e;
	return 0;
}

static const struct fx_route routes[] = {
	{"GET", "/v1/products", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
	{"GET", "/v1/products/{id}", h, FX_MEMBER, FX_ROLE_VIEWER, 0, 0},
};

static char dir[] = "/tmp/fx-metrics-XXXXXX";
static struct fx_buf out;
static struct fx_err err;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	fx_buf_init(&out, 1 << 20);
	fx_err_clear(&err);
}

static void teardown(void)
{
	char cmd[64];

	fx_buf_cleanup(&out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* The value of the sample line that starts with prefix (name and labels), or -1. */
static double value_of(const char *prefix)
{
	const char *p = out.data;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

static void render(void)
{
	fx_buf_reset(&out);
	cr_assert_eq(fx_metrics_render(dir, &out, &err), 0, "%s", err.message);
}

/* Runs a "worker" in a child: opens its file, counts, and exits cleanly or not. */
static void child(const char *group, int requests, int clean)
{
	pid_t pid = fork();
	int st;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct fx_err e;

		fx_err_clear(&e);
		if (fx_metrics_open(dir, group, routes, 2, &e) < 0)
			_exit(2);
		for (int i = 0; i < requests; i++)
			fx_metrics_request(1, 200, 0.003);
		fx_metrics_request(-1, 404, 0.0001);
		fx_metrics_backend("firestore", 200, 1, 0.002);
		fx_metrics_backend("firestore", 200, 0, 0.002);
		fx_metrics_backend("firestore", 503, 0, 0.02);
		fx_metrics_backend_retry("firestore");
		fx_metrics_backend("no-such-service", 0, 1, 1.0);
		fx_metrics_token_cache(1);
		fx_metrics_token_cache(0);
		if (clean)
			fx_metrics_close();
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TestSuite(metrics, .init = setup, .fini = teardown);

Test(metrics, sums_processes_of_a_group_and_keeps_exited_ones)
{
	child("products", 3, 1);
	child("products", 4, 0);
	child("orders", 1, 1);
	render();
	cr_expect_eq(value_of("fluxori_requests_total{group=\"products\",route=\"GET /v1/products/{id}\",status=\"200\"}"), 7);
	cr_expect_eq(value_of("fluxori_requests_total{group=\"products\",route=\"unmatched\",status=\"404\"}"), 2);
	cr_expect_eq(value_of("fluxori_requests_total{group=\"orders\",route=\"GET /v1/products/{id}\",status=\"200\"}"), 1);
	cr_expect_eq(value_of("fluxori_requests_total{group=\"products\",route=\"GET /v1/products\",status=\"200\"}"), -1,
		     "routes without requests have no samples");
	/* Histograms are cumulative: 3 ms is above 2.5 ms and within 5 ms. */
	cr_expect_eq(value_of("fluxori_request_duration_seconds_bucket{group=\"products\",route=\"GET /v1/products/{id}\",le=\"0.0025\"}"), 0);
	cr_expect_eq(value_of("fluxori_request_duration_seconds_bucket{group=\"products\",route=\"GET /v1/products/{id}\",le=\"0.005\"}"), 7);
	cr_expect_eq(value_of("fluxori_request_duration_seconds_bucket{group=\"products\",route=\"GET /v1/products/{id}\",le=\"+Inf\"}"), 7);
	cr_expect_eq(value_of("fluxori_request_duration_seconds_count{group=\"products\",route=\"GET /v1/products/{id}\"}"), 7);
	cr_expect_float_eq(value_of("fluxori_request_duration_seconds_sum{group=\"products\",route=\"GET /v1/products/{id}\"}"), 0.021, 1e-6);
	cr_expect_eq(value_of("fluxori_backend_calls_total{group=\"products\",service=\"firestore\",outcome=\"ok\"}"), 4);
	cr_expect_eq(value_of("fluxori_backend_calls_total{group=\"products\",service=\"firestore\",outcome=\"server_error\"}"), 2);
	cr_expect_eq(value_of("fluxori_backend_calls_total{group=\"products\",service=\"other\",outcome=\"unreachable\"}"), 2);
	cr_expect_eq(value_of("fluxori_backend_retries_total{group=\"products\",service=\"firestore\"}"), 2);
	cr_expect_eq(value_of("fluxori_backend_connections_total{group=\"products\",service=\"firestore\"}"), 2);
	cr_expect_eq(value_of("fluxori_token_cache_total{group=\"products\",result=\"hit\"}"), 2);
	cr_expect_eq(value_of("fluxori_token_cache_total{group=\"products\",result=\"miss\"}"), 2);
	/* One products process exited cleanly, one died without closing: a restart. */
	cr_expect_eq(value_of("fluxori_worker_processes{group=\"products\"}"), 0);
	cr_expect_eq(value_of("fluxori_worker_exits_total{group=\"products\"}"), 1);
	cr_expect_eq(value_of("fluxori_worker_restarts_total{group=\"products\"}"), 1);
	cr_expect_eq(value_of("fluxori_worker_restarts_total{group=\"orders\"}"), 0);
}

Test(metrics, a_live_process_is_running_and_shows_its_memory)
{
	char line[128];

	cr_assert_eq(fx_metrics_open(dir, "health", routes, 2, &err), 0, "%s", err.message);
	fx_metrics_in_flight(1);
	fx_metrics_request(0, 200, 0.0005);
	render();
	cr_expect_eq(value_of("fluxori_worker_processes{group=\"health\"}"), 1);
	cr_expect_eq(value_of("fluxori_requests_in_flight{group=\"health\"}"), 1);
	cr_expect_eq(value_of("fluxori_requests_total{group=\"health\",route=\"GET /v1/products\",status=\"200\"}"), 1);
	snprintf(line, sizeof(line), "fluxori_worker_resident_bytes{group=\"health\",pid=\"%d\"}", (int)getpid());
	cr_expect_gt(value_of(line), 100000);
	fx_metrics_in_flight(-1);
	fx_metrics_close();
}

Test(metrics, every_line_is_a_comment_or_a_well_formed_sample)
{
	child("users", 2, 1);
	render();
	for (char *p = out.data, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		cr_assert_not_null(nl, "the exposition ends with a newline");
		*nl = '\0';
		if (*p == '#') {
			cr_expect(strncmp(p, "# HELP fluxori_", 15) == 0 || strncmp(p, "# TYPE fluxori_", 15) == 0, "%s", p);
		} else {
			char *brace = strchr(p, '{'), *close = strrchr(p, '}');

			cr_expect(brace && close && close > brace && close[1] == ' ', "sample shape: %s", p);
			cr_expect(strncmp(p, "fluxori_", 8) == 0, "%s", p);
		}
		*nl = '\n';
	}
}

Test(metrics, too_many_routes_are_refused_at_start)
{
	static struct fx_route many[49];

	for (int i = 0; i < 49; i++)
		many[i] = routes[0];
	cr_expect_eq(fx_metrics_open(dir, "big", many, 49, &err), -1);
	cr_expect_eq(fx_err_http(err.kind), 500);
}

Test(metrics, no_directory_is_a_503)
{
	cr_expect_eq(fx_metrics_render(NULL, &out, &err), -1);
	cr_expect_eq(fx_err_http(err.kind), 503);
}

static int files_in(const char *d)
{
	char cmd[128];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s/*.metrics | wc -l", d);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

Test(metrics, exited_processes_fold_into_one_file_and_nothing_is_lost)
{
	for (int i = 0; i < 30; i++)
		child("orders", 2, i % 3 != 0);
	render();
	cr_expect_leq(files_in(dir), 8 + 2, "a crash loop does not fill the disk: %d files", files_in(dir));
	cr_expect_eq(value_of("fluxori_requests_total{group=\"orders\",route=\"GET /v1/products/{id}\",status=\"200\"}"), 60);
	cr_expect_eq(value_of("fluxori_requests_total{group=\"orders\",route=\"unmatched\",status=\"404\"}"), 30);
	cr_expect_eq(value_of("fluxori_request_duration_seconds_count{group=\"orders\",route=\"GET /v1/products/{id}\"}"), 60);
	cr_expect_eq(value_of("fluxori_backend_calls_total{group=\"orders\",service=\"firestore\",outcome=\"ok\"}"), 60);
	cr_expect_eq(value_of("fluxori_token_cache_total{group=\"orders\",result=\"hit\"}"), 30);
	cr_expect_eq(value_of("fluxori_worker_exits_total{group=\"orders\"}"), 20);
	cr_expect_eq(value_of("fluxori_worker_restarts_total{group=\"orders\"}"), 10);
	cr_expect_eq(value_of("fluxori_worker_processes{group=\"orders\"}"), 0);
}

Test(metrics, calls_to_channels_have_their_own_label_and_are_not_calls_to_google)
{
	struct fx_metrics_totals t;

	cr_assert_eq(fx_metrics_open(dir, "jobs", routes, 2, &err), 0, "%s", err.message);
	fx_metrics_backend("firestore", 200, 1, 0.002);
	fx_metrics_backend("shopify", 429, 1, 0.2);
	fx_metrics_backend("takealot", 0, 0, 5.0);
	fx_metrics_backend("webhook", 200, 1, 0.1);
	fx_metrics_totals(&t);
	cr_expect_eq(t.calls, 1, "the totals say calls to Google");
	cr_expect_eq(t.unreachable, 0);
	render();
	cr_expect_eq(value_of("fluxori_backend_calls_total{group=\"jobs\",service=\"shopify\",outcome=\"client_error\"}"), 1);
	cr_expect_eq(value_of("fluxori_backend_calls_total{group=\"jobs\",service=\"takealot\",outcome=\"unreachable\"}"), 1);
	cr_expect_eq(value_of("fluxori_backend_calls_total{group=\"jobs\",service=\"webhook\",outcome=\"ok\"}"), 1);
	cr_expect_leq(value_of("fluxori_backend_calls_total{group=\"jobs\",service=\"other\",outcome=\"ok\"}"), 0,
		      "nothing fell into other");
	fx_metrics_close();
}
