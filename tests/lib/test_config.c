#include "config.h"
#include "seal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fx_config cfg;
static struct fx_err err;

static void clean_env(void)
{
	static const char *const vars[] = {"GOOGLE_CLOUD_PROJECT",
					   "FIRESTORE_EMULATOR_HOST",
					   "FIREBASE_AUTH_EMULATOR_HOST",
					   "STORAGE_EMULATOR_HOST",
					   "K_SERVICE",
					   "FLUXORI_WORKER_THREADS",
					   "FLUXORI_LOG_LEVEL",
					   "PORT",
					   "FLUXORI_ENV_FILE",
					   "FLUXORI_BUCKET",
					   "FLUXORI_AUTH_EMULATOR_TOKENS",
					   "FLUXORI_REVOCATION_CHECK_SECONDS",
					   "FLUXORI_SECRETS_KEY_FILE",
					   "FLUXORI_SECRETS_OLD_KEY_FILE",
					   "FLUXORI_CA_BUNDLE",
					   NULL};

	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	fx_err_clear(&err);
	cr_assert_eq(chdir("/"), 0);
}

static void teardown(void)
{
	fx_config_release();
}

TestSuite(config, .init = clean_env, .fini = teardown);

static char *write_env(const char *text)
{
	static char path[] = "/tmp/fx-config-XXXXXX";
	int fd;

	strcpy(path, "/tmp/fx-config-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* A production key file (64 hex digits): what a project that is not demo- needs to start. */
#define PROD_KEY "4a1f0c2e9d8b7a6958473625140302f1e0d9c8b7a6958473625140302f1e0d9c"

static char *use_key(const char *text)
{
	static char path[64]; /* write_env's buffer is reused by its next call */

	snprintf(path, sizeof(path), "%s", write_env(text));
	setenv("FLUXORI_SECRETS_KEY_FILE", path, 1);
	return path;
}

Test(config, requires_a_project)
{
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "GOOGLE_CLOUD_PROJECT"), "%s", err.message);
}

Test(config, defaults_are_those_of_the_contract)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(cfg.port, 8080);
	cr_assert_eq(cfg.worker_threads, 16);
	cr_assert_str_eq(cfg.region, "africa-south1");
	cr_assert_str_eq(cfg.vertex_location, "europe-west4");
	cr_assert_str_eq(cfg.database, "(default)");
	cr_assert_str_eq(cfg.firestore_url, "https://firestore.googleapis.com");
	cr_assert_not(cfg.emulated_auth);
	cr_assert_eq(cfg.revocation_check_seconds, 60, "Firebase Auth is asked at least once a minute per user");
}

Test(config, the_revocation_window_is_bounded_by_the_contracts_60_seconds)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FLUXORI_REVOCATION_CHECK_SECONDS", "2", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_eq(cfg.revocation_check_seconds, 2);
	setenv("FLUXORI_REVOCATION_CHECK_SECONDS", "61", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1, "longer than the contract allows");
	cr_assert(strstr(err.message, "FLUXORI_REVOCATION_CHECK_SECONDS"), "%s", err.message);
	setenv("FLUXORI_REVOCATION_CHECK_SECONDS", "0", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1, "asking on every request is not a window");
	setenv("FLUXORI_REVOCATION_CHECK_SECONDS", "60s", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
}

Test(config, reads_dotenv_and_the_environment_wins)
{
	char *path = write_env("# comment\nGOOGLE_CLOUD_PROJECT=demo-fluxori\nFLUXORI_WORKER_THREADS=\"4\"\n"
			       "export FIRESTORE_EMULATOR_HOST=127.0.0.1:8081\n");

	setenv("FLUXORI_WORKER_THREADS", "8", 1);
	cr_assert_eq(fx_config_load(&cfg, path, &err), 0, "%s", err.message);
	cr_assert_eq(cfg.worker_threads, 8);
	cr_assert_str_eq(cfg.firestore_url, "http://127.0.0.1:8081");
	unlink(path);
}

Test(config, refuses_nonsense_numbers_and_levels)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FLUXORI_WORKER_THREADS", "16x", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_WORKER_THREADS"));
	setenv("FLUXORI_WORKER_THREADS", "0", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	setenv("FLUXORI_WORKER_THREADS", " 16", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1, "digits only (strtol skipped the space)");
	setenv("FLUXORI_WORKER_THREADS", "+16", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_WORKER_THREADS must be an integer in 1..256, got \"+16\""), "%s",
		  err.message);
	unsetenv("FLUXORI_WORKER_THREADS");
	setenv("FLUXORI_LOG_LEVEL", "LOUD", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_LOG_LEVEL"));
}

/* The CAs trusted for calls to Google: unset is libcurl's default bundle; a file that is not there stops the start. */
Test(config, a_ca_bundle_must_be_readable)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_null(cfg.ca_bundle);
	setenv("FLUXORI_CA_BUNDLE", write_env("not checked here: curl reads it\n"), 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_str_eq(cfg.ca_bundle, getenv("FLUXORI_CA_BUNDLE"));
	setenv("FLUXORI_CA_BUNDLE", "/nonexistent/ca.pem", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_CA_BUNDLE"), "%s", err.message);
}

Test(config, refuses_an_emulator_host_with_a_scheme)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "http://127.0.0.1:9099", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FIREBASE_AUTH_EMULATOR_HOST"));
}

Test(config, emulators_on_cloud_run_with_a_real_project_are_fatal)
{
	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-prod", 1);
	setenv("K_SERVICE", "fluxori-api", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "refusing to start"), "%s", err.message);
}

Test(config, emulators_on_cloud_run_with_a_demo_project_are_allowed)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("K_SERVICE", "fluxori-api", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	setenv("FLUXORI_AUTH_EMULATOR_TOKENS", "true", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert(cfg.emulated_auth);
}

/* Unsigned emulator tokens: an explicit opt-in, a demo- project and the Auth emulator, all three. */

Test(config, the_auth_emulator_alone_does_not_accept_unsigned_tokens)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_not(cfg.emulated_auth, "without the opt-in tokens are verified as on Google");
	cr_assert_str_eq(cfg.identity_url, "http://127.0.0.1:9099/identitytoolkit.googleapis.com",
			 "admin calls still go to the emulator");
}

Test(config, the_auth_emulator_with_a_real_project_and_no_opt_in_verifies_tokens)
{
	use_key(PROD_KEY);
	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-staging", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_not(cfg.emulated_auth, "a stray emulator variable no longer lets anyone be any uid");
}

Test(config, opt_in_with_the_auth_emulator_and_a_demo_project_accepts_unsigned_tokens)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	setenv("FLUXORI_AUTH_EMULATOR_TOKENS", "true", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert(cfg.emulated_auth);
}

Test(config, opt_in_with_a_real_project_refuses_to_start)
{
	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-prod", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	setenv("FLUXORI_AUTH_EMULATOR_TOKENS", "true", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_AUTH_EMULATOR_TOKENS"), "%s", err.message);
	cr_assert(strstr(err.message, "demo-"), "the message says what is missing: %s", err.message);
}

Test(config, opt_in_without_the_auth_emulator_refuses_to_start)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FLUXORI_AUTH_EMULATOR_TOKENS", "true", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_AUTH_EMULATOR_TOKENS"), "%s", err.message);
	cr_assert(strstr(err.message, "FIREBASE_AUTH_EMULATOR_HOST"), "the message says what is missing: %s",
		  err.message);
}

Test(config, opt_in_with_neither_refuses_to_start)
{
	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-prod", 1);
	setenv("FLUXORI_AUTH_EMULATOR_TOKENS", "true", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_AUTH_EMULATOR_TOKENS"), "%s", err.message);
}

Test(config, opt_out_keeps_the_auth_emulator_for_admin_calls)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	setenv("FLUXORI_AUTH_EMULATOR_TOKENS", "false", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_not(cfg.emulated_auth);
	use_key(PROD_KEY);
	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-prod", 1);
	unsetenv("FIREBASE_AUTH_EMULATOR_HOST");
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "false is a valid setting anywhere: %s", err.message);
	cr_assert_not(cfg.emulated_auth);
}

Test(config, opt_in_from_the_env_file_counts_like_the_environment)
{
	char *path = write_env("GOOGLE_CLOUD_PROJECT=fluxori-prod\nFIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099\n"
			       "FLUXORI_AUTH_EMULATOR_TOKENS=true\n");

	cr_assert_eq(fx_config_load(&cfg, path, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_AUTH_EMULATOR_TOKENS"), "%s", err.message);
	unlink(path);
}

Test(config, the_opt_in_takes_only_true_or_false)
{
	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", 1);
	setenv("FLUXORI_AUTH_EMULATOR_TOKENS", "yes", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_AUTH_EMULATOR_TOKENS"), "%s", err.message);
}

Test(config, a_named_env_file_that_is_missing_is_an_error)
{
	cr_assert_eq(fx_config_load(&cfg, "/nonexistent/.env", &err), -1);
	cr_assert(strstr(err.message, "/nonexistent/.env"));
}

Test(config, refuses_a_malformed_project_id)
{
	setenv("GOOGLE_CLOUD_PROJECT", "Demo_Fluxori", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
}

/* Secrets keys (lib/seal): every worker reads them at start. */

Test(config, a_real_project_without_a_secrets_key_refuses_to_start)
{
	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-prod", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_SECRETS_KEY_FILE"), "%s", err.message);
	cr_assert(strstr(err.message, "refusing to start"), "%s", err.message);
}

Test(config, a_real_project_with_a_key_file_starts_and_seals_under_it)
{
	char id[FX_SEAL_KEY_ID_LEN + 1];
	char *path = use_key(PROD_KEY "\n");

	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-prod", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_str_eq(cfg.secrets_key_file, path);
	fx_seal_key_id(id);
	cr_assert_eq(strlen(id), FX_SEAL_KEY_ID_LEN, "the key is loaded");
	fx_config_release();
	fx_seal_key_id(id);
	cr_assert_str_eq(id, "", "release wipes it");
	unlink(path);
}

Test(config, a_malformed_secrets_key_refuses_to_start_naming_the_variable_not_the_key)
{
	char *path = use_key(PROD_KEY "ab");

	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1, "a malformed key is refused even in a demo- project");
	cr_assert(strstr(err.message, "FLUXORI_SECRETS_KEY_FILE"), "%s", err.message);
	cr_assert_null(strstr(err.message, "4a1f0c2e"), "%s", err.message);
	unlink(path);
}

Test(config, a_malformed_old_secrets_key_refuses_to_start)
{
	char *key = use_key(PROD_KEY), *old = write_env("not-a-key");

	setenv("GOOGLE_CLOUD_PROJECT", "fluxori-prod", 1);
	setenv("FLUXORI_SECRETS_OLD_KEY_FILE", old, 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), -1);
	cr_assert(strstr(err.message, "FLUXORI_SECRETS_OLD_KEY_FILE"), "%s", err.message);
	unlink(key);
	unlink(old);
}

Test(config, a_demo_project_without_a_key_starts_on_the_demo_key)
{
	char id[FX_SEAL_KEY_ID_LEN + 1];

	setenv("GOOGLE_CLOUD_PROJECT", "demo-fluxori", 1);
	cr_assert_eq(fx_config_load(&cfg, NULL, &err), 0, "%s", err.message);
	cr_assert_null(cfg.secrets_key_file);
	fx_seal_key_id(id);
	cr_assert_eq(strlen(id), FX_SEAL_KEY_ID_LEN);
}
