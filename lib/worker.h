/*
 * fx_worker: the one worker loop every route group runs. It reads the
 * configuration, serves the inherited FastCGI socket (fd 0, as spawn-fcgi
 * hands it over) from FLUXORI_WORKER_THREADS threads, each with its own
 * FCGX_Request, that take turns on one epoll set of the listening socket
 * and nginx's kept connections (an idle one holds no thread), and on
 * SIGTERM stops accepting, shuts idle kept connections down, lets in-flight
 * requests finish and exits (forced after FLUXORI_DRAIN_SECONDS, default 8).
 */
#ifndef FX_WORKER_H
#define FX_WORKER_H

#include "err.h"

#include "router.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct fx_app {
	const char *group; /* route group name, a log label */
	const struct fx_route *routes;
	size_t nroutes;
	/* Optional, once after the configuration is loaded; -1 refuses to start. */
	int (*init)(struct fx_err *e);
};

/*
 * Runs the worker; returns the process exit status. With the single
 * argument --routes it prints fx_worker_routes_json's text on stdout and
 * returns 0 without reading any configuration.
 */
FX_MUST_USE int fx_worker_main(const struct fx_app *app, int argc, char **argv);

/*
 * The group's route table as JSON, for tools that must cover every route
 * (the route fuzzer): {"group", "routes": [{"method", "pattern", "access"
 * (public|signed-in|member|job), "minRole" (none|viewer|...|owner), "body"
 * (none|json|raw), "maxBody" (bytes)}]}. Never fails; the caller puts.
 */
json_object *fx_worker_routes_json(const struct fx_app *app);

/* True once SIGTERM was received. */
bool fx_worker_stopping(void);

/*
 * Serves one accepted request: routing, access checks, body limits,
 * handler, error answer and the request log line. Exposed for tests.
 */
struct fx_req;
void fx_worker_handle(const struct fx_app *app, struct fx_req *r);

#endif
