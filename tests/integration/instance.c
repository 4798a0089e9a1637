#include "instance.h"

#include "buf.h"
#include "client.h"
#include "testserver.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *test_data(const char *name)
{
	static __thread char path[512];

	snprintf(path, sizeof(path), "%s/tests/data/%s", getenv("FLUXORI_SRCDIR"), name);
	return path;
}

long test_status(const char *url)
{
	struct http_resp *r = http_url("GET", url, NULL, NULL, 0);
	long s = r->status;

	http_resp_free(r);
	return s;
}

struct testserver *test_cert_server(void)
{
	struct testserver *ts = ts_start();
	char *cert = test_slurp(test_data("signer1.cert.pem"));
	struct fx_buf json;

	fx_buf_init(&json, 16384);
	cr_assert_eq(fx_buf_puts(&json, "{\"kid1\":"), 0);
	cr_assert_eq(fx_buf_json_string(&json, cert, strlen(cert)), 0);
	cr_assert_eq(fx_buf_puts(&json, "}"), 0);
	ts_reply(ts, 200, "Cache-Control: public, max-age=3600\r\nContent-Type: application/json\r\n", json.data);
	fx_buf_cleanup(&json);
	free(cert);
	return ts;
}

static int free_port(void)
{
	int port;

	do
		port = 20000 + rand() % 12000;
	while (test_sh("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null", port) == 0);
	return port;
}

/* The extra settings must win over what the harness exported for the shared stack. */
static void unset_overrides(const char *extra)
{
	const char *p = extra;

	while (p && *p) {
		const char *eq = strchr(p, '='), *nl = strchr(p, '\n');
		char name[128];

		if (!eq || (nl && nl < eq))
			break;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
		unsetenv(name);
		p = nl ? nl + 1 : p + strlen(p);
	}
}

void instance_start(struct instance *in, const char *extra)
{
	char env_path[128], url[128], metrics_at[64];
	int port;
	FILE *env;

	srand((unsigned)getpid() ^ (unsigned)rand());
	snprintf(in->run, sizeof(in->run), "/tmp/fluxori-inst.XXXXXX");
	cr_assert_not_null(mkdtemp(in->run));
	snprintf(env_path, sizeof(env_path), "%s/env", in->run);
	env = fopen(env_path, "w");
	cr_assert_not_null(env);
	fprintf(env,
		"GOOGLE_CLOUD_PROJECT=demo-fluxori\nFIRESTORE_EMULATOR_HOST=127.0.0.1:%s\n"
		"FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:%s\nSTORAGE_EMULATOR_HOST=http://127.0.0.1:%s\n"
		"FLUXORI_AUTH_EMULATOR_TOKENS=true\n"
		"FLUXORI_BUCKET=demo-fluxori.appspot.com\nGOOGLE_APPLICATION_CREDENTIALS=%s\n"
		"FLUXORI_LOG_LEVEL=WARNING\n%s",
		test_env("FLUXORI_FIRESTORE_PORT"), test_env("FLUXORI_AUTH_PORT"), test_env("FLUXORI_STORAGE_PORT"),
		test_env("GOOGLE_APPLICATION_CREDENTIALS"), extra ? extra : "");
	fclose(env);
	port = free_port();
	/* Its own internal /metrics listener, not the shared stack's. */
	do
		snprintf(metrics_at, sizeof(metrics_at), "127.0.0.1:%d", free_port());
	while (atoi(metrics_at + 10) == port);
	snprintf(in->base, sizeof(in->base), "http://127.0.0.1:%d", port);
	in->pid = fork();
	if (in->pid == 0) {
		char log[160], listen_at[64], cmd[400];

		snprintf(log, sizeof(log), "%s/api.log", in->run);
		if (!freopen(log, "w", stderr))
			_exit(126);
		unset_overrides("FLUXORI_LOG_LEVEL=\n");
		unset_overrides(extra);
		snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", port);
		setenv("FLUXORI_RUN_DIR", in->run, 1);
		setenv("FLUXORI_ENV_FILE", env_path, 1);
		setenv("FLUXORI_LISTEN", listen_at, 1);
		setenv("FLUXORI_METRICS_LISTEN", metrics_at, 1);
		snprintf(cmd, sizeof(cmd), "%s/scripts/entrypoint", getenv("FLUXORI_SRCDIR"));
		execl(cmd, cmd, (char *)NULL);
		_exit(127);
	}
	snprintf(url, sizeof(url), "%s/health", in->base);
	for (int i = 0; i < 200 && test_status(url) != 200; i++)
		usleep(50 * 1000);
	cr_assert_eq(test_status(url), 200, "the extra API instance answers /health (log: %s/api.log)", in->run);
}

void instance_stop(struct instance *in)
{
	int status;

	if (in->pid > 0) {
		kill(in->pid, SIGTERM);
		waitpid(in->pid, &status, 0);
		in->pid = 0;
	}
	test_sh("rm -rf '%s'", in->run);
}
