/*
 * health: liveness and readiness, outside /v1 and unauthenticated.
 * GET /health touches nothing; GET /health/ready asks Firestore.
 */
#include "config.h"
#include "firestore.h"
#include "http.h"
#include "worker.h"

static int health(struct fx_req *r, struct fx_err *e);
static int ready(struct fx_req *r, struct fx_err *e);

static const struct fx_route routes[] = {
	{"GET", "/health", health, FX_PUBLIC, FX_ROLE_NONE, 0, 0},
	{"GET", "/health/ready", ready, FX_PUBLIC, FX_ROLE_NONE, 0, 0},
};

static int health(struct fx_req *r, struct fx_err *e)
{
	static const char body[] = "{\"status\":\"ok\"}";

	(void)e;
	return fx_resp_send(r, 200, "application/json", body, sizeof(body) - 1);
}

static int ready(struct fx_req *r, struct fx_err *e)
{
	static const char body[] = "{\"status\":\"ok\",\"firestore\":\"ok\"}";
	struct fx_err probe;

	fx_err_clear(&probe);
	if (fx_firestore_ping(&probe) == 0)
		return fx_resp_send(r, 200, "application/json", body, sizeof(body) - 1);
	fx_err_set(e, 503, "UNAVAILABLE", "not ready: firestore is down");
	fx_err_detail(e, "firestore", "%s", probe.message);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"health", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
