/*
 * fx_config: the process configuration, read once at start from the
 * environment and an optional .env file (the environment wins), validated,
 * then read-only. Strings point into storage owned by the config.
 */
#ifndef FX_CONFIG_H
#define FX_CONFIG_H

#include "err.h"

#include <stdbool.h>

enum fx_log_level { FX_LOG_DEBUG, FX_LOG_INFO, FX_LOG_WARNING, FX_LOG_ERROR };

struct fx_config {
	int port;
	const char *project; /* GOOGLE_CLOUD_PROJECT */
	const char *region; /* FLUXORI_REGION */
	const char *bucket; /* FLUXORI_BUCKET */
	const char *database; /* FLUXORI_FIRESTORE_DATABASE, "(default)" */
	const char *firestore_emulator; /* host:port or NULL */
	const char *auth_emulator; /* host:port or NULL */
	const char *storage_emulator; /* host:port (or URL) or NULL */
	const char *credentials; /* GOOGLE_APPLICATION_CREDENTIALS path or NULL */
	const char *vertex_location;
	const char *vertex_model; /* NULL: Vertex AI off */
	const char *vertex_url; /* base URL override (tests), NULL for Google's */
	const char *jobs_audience;
	const char *jobs_service_accounts; /* comma-separated list */
	int worker_threads;
	enum fx_log_level log_level;
	const char *k_service; /* set on Cloud Run */
	/* Endpoints, configurable so tests can serve their own. */
	const char *firestore_url; /* base, e.g. https://firestore.googleapis.com */
	const char *identity_url; /* base for identitytoolkit.googleapis.com */
	const char *securetoken_url;
	const char *firebase_keys_url;
	const char *oidc_keys_url;
	const char *token_url; /* OAuth2 token endpoint */
	const char *metadata_url; /* metadata server base */
	const char *storage_url; /* JSON API base */
	const char *storage_upload_url;
	const char *iam_credentials_url;
	bool emulated_auth; /* unsigned emulator tokens accepted */
	long http_timeout_ms; /* total timeout of one call to Google */
	long connect_timeout_ms;
	const char *ca_bundle; /* FLUXORI_CA_BUNDLE: PEM file of the CAs trusted for calls to Google, or NULL for
				  the system's (libcurl's default) */
	int revocation_check_seconds; /* FLUXORI_REVOCATION_CHECK_SECONDS (1..60, default 60): how old an answer of
					 Firebase Auth about a user (exists, disabled, validSince) may be */
	const char *metrics_dir; /* FLUXORI_METRICS_DIR: files the worker processes share (counters,
				    member-cache epochs, key locks), or NULL */
	const char *public_url; /* FLUXORI_PUBLIC_URL: the API's public base URL (channels' webhookUrl), or NULL
				   for the request's own scheme and host */
	const char *secrets_key_file; /* FLUXORI_SECRETS_KEY_FILE: the key fx_seal seals under, or NULL (demo- only) */
	const char *secrets_old_key_file; /* FLUXORI_SECRETS_OLD_KEY_FILE: the previous key, opening only, or NULL */
};

/*
 * Loads and validates the configuration. env_file may be NULL (then
 * FLUXORI_ENV_FILE, else ./.env if it exists). Also loads the secrets keys
 * (fx_seal_keys_load): every worker refuses to start on a malformed key file,
 * or without one in a project that is not demo-. Returns 0, or -1 with e
 * naming the offending variable (never a key).
 */
FX_MUST_USE int fx_config_load(struct fx_config *c, const char *env_file, struct fx_err *e);

/* The process-wide configuration set by fx_config_set (read-only). */
const struct fx_config *fx_config_get(void);
void fx_config_set(const struct fx_config *c);

/*
 * The raw value of variable key as fx_config_load sees it (the
 * environment, else the last loaded .env file; empty counts as unset), or
 * NULL: for settings a module reads itself (lib/webhook's windows).
 */
const char *fx_config_lookup(const char *key);

/* Releases storage behind strings of the last load and wipes the secrets keys (tests, exit). */
void fx_config_release(void);

#endif
