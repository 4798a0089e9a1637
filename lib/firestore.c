#include "firestore.h"

#include "config.h"
#include "gauth.h"
#include "httpc.h"

#include <stdio.h>

int fx_firestore_ping(struct fx_err *e)
{
	const struct fx_config *c = fx_cfg();
	char url[1024], auth[4096];
	const char *headers[] = {auth, NULL};
	struct fx_httpc_req req = {0};
	struct fx_httpc_resp resp;
	int rc = -1;

	if (fx_gauth_header(FX_GAUTH_FIRESTORE, auth, sizeof(auth), e) < 0)
		return -1;
	snprintf(url, sizeof(url), "%s/v1/projects/%s/databases/%s/documents/_health/ping", c->firestore_url,
		 c->project, c->database);
	req.url = url;
	req.headers = headers;
	req.timeout_ms = 2000;
	req.retry = FX_RETRY_NONE;
	req.service = "firestore";
	fx_httpc_resp_init(&resp);
	if (fx_httpc_do(&req, &resp, e) < 0)
		goto out;
	if (resp.status == 200 || resp.status == 404)
		rc = 0;
	else
		fx_httpc_google_error(&resp, "firestore ping", e);
out:
	fx_httpc_resp_cleanup(&resp);
	return rc;
}
