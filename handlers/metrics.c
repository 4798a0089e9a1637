/*
 * metrics: GET /metrics, every worker process's counters in the Prometheus
 * text format (lib/metrics.h). Internal only: nginx serves it on its own
 * loopback listener (FLUXORI_METRICS_LISTEN), where Cloud Run's Managed
 * Prometheus sidecar scrapes it; the public listener answers 404.
 */
#include "config.h"
#include "http.h"
#include "metrics.h"
#include "worker.h"

#define MAX_EXPOSITION (4u * 1024 * 1024)

static int metrics(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/metrics", metrics, FX_PUBLIC, FX_ROLE_NONE, 0, 0},
};

static int metrics(struct fx_req *r, struct fx_err *e)
{
	struct fx_buf b;
	int rc;

	fx_buf_init(&b, MAX_EXPOSITION);
	rc = fx_metrics_render(fx_config_get()->metrics_dir, &b, e);
	if (rc == 0)
		rc = fx_http_resp_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
	fx_buf_cleanup(&b);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"metrics", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
