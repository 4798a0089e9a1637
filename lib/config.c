#include "config.h"

#include "buf.h"
#include "defaults.h"
#include "mem.h"
#include "num.h"
#include "seal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENV_MAX_VARS 128

struct kv {
	char *key;
	char *value;
};

/* Storage of strings made during load: .env values and derived URLs. */
static struct kv dotenv[ENV_MAX_VARS];
static int ndotenv;
static char *owned[64];
static int nowned;
static const struct fx_config *current;

static const char *own(char *s)
{
	if (nowned < (int)(sizeof(owned) / sizeof(owned[0])))
		owned[nowned++] = s;
	return s;
}

void fx_config_release(void)
{
	int i;

	for (i = 0; i < ndotenv; i++) {
		free(dotenv[i].key);
		free(dotenv[i].value);
	}
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	ndotenv = nowned = 0;
	fx_seal_keys_clear();
}

const struct fx_config *fx_config_get(void)
{
	return current;
}

void fx_config_set(const struct fx_config *c)
{
	current = c;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Reads KEY=VALUE lines; '#' starts a comment line; values may be quoted. */
static int read_dotenv(const char *path, bool required, struct fx_err *e)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (!f) {
		if (!required && errno == ENOENT)
			return 0;
		return fx_err_set(e, FX_INTERNAL, "cannot read env file %s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq, *key, *val;
		size_t vlen;

		lineno++;
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		if (strncmp(key, "export ", 7) == 0)
			key = trim(key + 7);
		eq = strchr(key, '=');
		if (!eq || ndotenv >= ENV_MAX_VARS) {
			fclose(f);
			return fx_err_set(e, FX_INTERNAL, "%s:%d: expected KEY=VALUE", path, lineno);
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		vlen = strlen(val);
		if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') && val[vlen - 1] == val[0]) {
			val[vlen - 1] = '\0';
			val++;
		}
		dotenv[ndotenv].key = fx_mem_xstrdup(key);
		dotenv[ndotenv].value = fx_mem_xstrdup(val);
		ndotenv++;
	}
	fclose(f);
	return 0;
}

/* The environment wins over .env; empty counts as unset. */
static const char *get(const char *key)
{
	const char *v = getenv(key);
	int i;

	if (v && *v)
		return v;
	for (i = ndotenv - 1; i >= 0; i--)
		if (strcmp(dotenv[i].key, key) == 0)
			return *dotenv[i].value ? dotenv[i].value : NULL;
	return NULL;
}

const char *fx_config_lookup(const char *key)
{
	return get(key);
}

static const char *get_or(const char *key, const char *def)
{
	const char *v = get(key);

	return v ? v : def;
}

static int get_int(const char *key, long def, long min, long max, long *out, struct fx_err *e)
{
	const char *v = get(key);
	int64_t n;

	if (!v) {
		*out = def;
		return 0;
	}
	if (fx_num_parse(v, min, max, &n, NULL) < 0)
		return fx_err_set(e, FX_INTERNAL, "%s must be an integer in %ld..%ld, got \"%s\"", key, min, max, v);
	*out = (long)n;
	return 0;
}

__attribute__((format(printf, 1, 2))) static const char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	s = fx_mem_xvasprintf(f, ap);
	va_end(ap);
	return own(s);
}

/* host:port without a scheme, as Google's SDKs expect. */
static int check_host(const char *key, const char *v, struct fx_err *e)
{
	if (v && (strstr(v, "//") || !strchr(v, ':')))
		return fx_err_set(e, FX_INTERNAL, "%s must be host:port without a scheme, got \"%s\"", key, v);
	return 0;
}

static bool valid_project(const char *p)
{
	size_t n = strlen(p), i;

	if (n < 4 || n > 63 || !islower((unsigned char)p[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]) && p[i] != '-')
			return false;
	return p[n - 1] != '-';
}

int fx_config_load(struct fx_config *c, const char *env_file, struct fx_err *e)
{
	const char *level;
	long n;

	fx_config_release();
	memset(c, 0, sizeof(*c));
	if (!env_file)
		env_file = getenv("FLUXORI_ENV_FILE");
	if (read_dotenv(env_file ? env_file : ".env", env_file != NULL, e) < 0)
		return -1;

	if (get_int("PORT", 8080, 1, 65535, &n, e) < 0)
		return -1;
	c->port = (int)n;
	c->project = get("GOOGLE_CLOUD_PROJECT");
	if (!c->project)
		return fx_err_set(e, FX_INTERNAL, "GOOGLE_CLOUD_PROJECT is not set");
	if (!valid_project(c->project))
		return fx_err_set(e, FX_INTERNAL, "GOOGLE_CLOUD_PROJECT \"%s\" is not a project id", c->project);
	c->region = get_or("FLUXORI_REGION", "africa-south1");
	c->database = get_or("FLUXORI_FIRESTORE_DATABASE", "(default)");
	c->bucket = get("FLUXORI_BUCKET");
	if (!c->bucket)
		c->bucket = fmt("%s.appspot.com", c->project);
	c->firestore_emulator = get("FIRESTORE_EMULATOR_HOST");
	c->auth_emulator = get("FIREBASE_AUTH_EMULATOR_HOST");
	c->storage_emulator = get("STORAGE_EMULATOR_HOST");
	if (check_host("FIRESTORE_EMULATOR_HOST", c->firestore_emulator, e) < 0 ||
	    check_host("FIREBASE_AUTH_EMULATOR_HOST", c->auth_emulator, e) < 0)
		return -1;
	c->credentials = get("GOOGLE_APPLICATION_CREDENTIALS");
	c->vertex_location = get_or("FLUXORI_VERTEX_LOCATION", "europe-west4");
	c->vertex_model = get("FLUXORI_VERTEX_MODEL");
	c->vertex_url = get("FLUXORI_VERTEX_URL");
	c->jobs_audience = get("FLUXORI_JOBS_AUDIENCE");
	c->jobs_service_accounts = get("FLUXORI_JOBS_SERVICE_ACCOUNTS");
	c->metrics_dir = get("FLUXORI_METRICS_DIR");
	c->public_url = get("FLUXORI_PUBLIC_URL");
	if (c->public_url && strncmp(c->public_url, "https://", 8) != 0 && strncmp(c->public_url, "http://", 7) != 0)
		return fx_err_set(e, FX_INTERNAL, "FLUXORI_PUBLIC_URL must be an http(s) URL, got \"%s\"",
				  c->public_url);
	if (get_int("FLUXORI_WORKER_THREADS", 16, 1, 256, &n, e) < 0)
		return -1;
	c->worker_threads = (int)n;
	if (get_int("FLUXORI_HTTP_TIMEOUT_MS", FX_DEFAULT_HTTP_TIMEOUT_MS, 100, 600000, &n, e) < 0)
		return -1;
	c->http_timeout_ms = n;
	if (get_int("FLUXORI_CONNECT_TIMEOUT_MS", FX_DEFAULT_CONNECT_TIMEOUT_MS, 50, 60000, &n, e) < 0)
		return -1;
	c->connect_timeout_ms = n;
	c->ca_bundle = get("FLUXORI_CA_BUNDLE");
	if (c->ca_bundle && access(c->ca_bundle, R_OK) != 0)
		return fx_err_set(e, FX_INTERNAL, "FLUXORI_CA_BUNDLE \"%s\" cannot be read", c->ca_bundle);
	/* The contract: a user disabled, revoked or deleted in Firebase Auth is refused within 60 s. */
	if (get_int("FLUXORI_REVOCATION_CHECK_SECONDS", 60, 1, 60, &n, e) < 0)
		return -1;
	c->revocation_check_seconds = (int)n;

	level = get_or("FLUXORI_LOG_LEVEL", "INFO");
	if (strcasecmp(level, "DEBUG") == 0)
		c->log_level = FX_LOG_DEBUG;
	else if (strcasecmp(level, "INFO") == 0)
		c->log_level = FX_LOG_INFO;
	else if (strcasecmp(level, "WARNING") == 0)
		c->log_level = FX_LOG_WARNING;
	else if (strcasecmp(level, "ERROR") == 0)
		c->log_level = FX_LOG_ERROR;
	else
		return fx_err_set(e, FX_INTERNAL, "FLUXORI_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR");

	/* The emulator's unsigned tokens must never be accepted in production. */
	c->k_service = get("K_SERVICE");
	if (c->k_service && strncmp(c->project, "demo-", 5) != 0 &&
	    (c->firestore_emulator || c->auth_emulator || c->storage_emulator))
		return fx_err_set(
			e, FX_INTERNAL,
			"emulator variables are set on Cloud Run (K_SERVICE=%s) with project %s: refusing to start",
			c->k_service, c->project);
	/*
	 * Unsigned emulator tokens let anyone be any uid: they are accepted only
	 * when asked for by name (FLUXORI_AUTH_EMULATOR_TOKENS=true), for a demo-
	 * project (emulator-only by Firebase's rules) with the Auth emulator set.
	 * The opt-in with anything else missing is a mistake worth stopping for.
	 * Without it tokens are verified as on Google (RS256, keys from
	 * FLUXORI_FIREBASE_KEYS_URL) and the Auth emulator serves admin calls only.
	 */
	{
		const char *v = get("FLUXORI_AUTH_EMULATOR_TOKENS");
		bool opt_in = false;

		if (v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0))
			opt_in = true;
		else if (v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0)
			return fx_err_set(e, FX_INTERNAL,
					  "FLUXORI_AUTH_EMULATOR_TOKENS must be true or false, got \"%s\"", v);
		if (opt_in && strncmp(c->project, "demo-", 5) != 0)
			return fx_err_set(
				e, FX_INTERNAL,
				"FLUXORI_AUTH_EMULATOR_TOKENS=true needs a demo- project (emulator only), not %s: "
				"refusing to start",
				c->project);
		if (opt_in && !c->auth_emulator)
			return fx_err_set(
				e, FX_INTERNAL,
				"FLUXORI_AUTH_EMULATOR_TOKENS=true needs FIREBASE_AUTH_EMULATOR_HOST: refusing to "
				"start");
		c->emulated_auth = opt_in;
	}

	if (c->firestore_emulator)
		c->firestore_url = fmt("http://%s", c->firestore_emulator);
	else
		c->firestore_url = get_or("FLUXORI_FIRESTORE_URL", "https://firestore.googleapis.com");
	if (c->auth_emulator) {
		c->identity_url = fmt("http://%s/identitytoolkit.googleapis.com", c->auth_emulator);
		c->securetoken_url = fmt("http://%s/securetoken.googleapis.com", c->auth_emulator);
	} else {
		c->identity_url = get_or("FLUXORI_IDENTITY_URL", "https://identitytoolkit.googleapis.com");
		c->securetoken_url = get_or("FLUXORI_SECURETOKEN_URL", "https://securetoken.googleapis.com");
	}
	if (c->storage_emulator) {
		const char *scheme = strstr(c->storage_emulator, "://") ? "" : "http://";

		c->storage_url = fmt("%s%s", scheme, c->storage_emulator);
	} else {
		c->storage_url = get_or("FLUXORI_STORAGE_URL", "https://storage.googleapis.com");
	}
	c->storage_upload_url = c->storage_url;
	c->firebase_keys_url =
		get_or("FLUXORI_FIREBASE_KEYS_URL",
		       "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com");
	c->oidc_keys_url = get_or("FLUXORI_OIDC_KEYS_URL", "https://www.googleapis.com/oauth2/v1/certs");
	c->token_url = get_or("FLUXORI_TOKEN_URL", "https://oauth2.googleapis.com/token");
	c->metadata_url = get("GCE_METADATA_HOST") ? fmt("http://%s", get("GCE_METADATA_HOST"))
						   : "http://metadata.google.internal";
	c->iam_credentials_url = get_or("FLUXORI_IAM_CREDENTIALS_URL", "https://iamcredentials.googleapis.com");
	/* Every worker reads the keys, so a deployment without one fails at its first start, not at a first secret. */
	c->secrets_key_file = get("FLUXORI_SECRETS_KEY_FILE");
	c->secrets_old_key_file = get("FLUXORI_SECRETS_OLD_KEY_FILE");
	return fx_seal_keys_load(c->project, c->secrets_key_file, c->secrets_old_key_file, e);
}
