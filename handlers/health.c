/*
 * health: liveness and readiness, outside /v1 and unauthenticated.
 * GET /health touches nothing; GET /health/ready asks Firestore.
 */
#include "config.h"
#include "firestore.h"
#include "http.h"
#include "idtoken.h"
#include "log.h"
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
	return fx_http_resp_send(r, 200, "application/json", body, sizeof(body) - 1);
}

static int ready(struct fx_req *r, struct fx_err *e)
{
	static const char body[] = "{\"status\":\"ok\",\"firestore\":\"ok\",\"tokenKeys\":\"ok\"}";
	struct fx_err fs, keys;
	bool fs_ok, keys_ok;

	fx_err_clear(&fs);
	fx_err_clear(&keys);
	fs_ok = fx_firestore_ping(&fs) == 0;
	keys_ok = fx_idtoken_ready(&keys) == 0;
	if (fs_ok && keys_ok)
		return fx_http_resp_send(r, 200, "application/json", body, sizeof(body) - 1);
	/* The backends' words (addresses, library errors) are for the log, not for anyone who asks. */
	if (!fs_ok)
		fx_log_warn("not ready: firestore: %s", fs.message);
	if (!keys_ok)
		fx_log_warn("not ready: token keys: %s", keys.message);
	fx_err_set(e, FX_UNAVAILABLE, "not ready: %s%s%s", fs_ok ? "" : "firestore is down",
		   !fs_ok && !keys_ok ? ", " : "", keys_ok ? "" : "token keys cannot be loaded");
	if (!fs_ok)
		fx_err_detail(e, "firestore", "unavailable");
	if (!keys_ok)
		fx_err_detail(e, "tokenKeys", "cannot be loaded");
	return -1;
}

int main(int argc, char **argv)
{
	static const struct fx_app app = {"health", routes, sizeof(routes) / sizeof(routes[0]), NULL};

	return fx_worker_main(&app, argc, argv);
}
