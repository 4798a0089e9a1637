/*
 * fuzz_idtoken: bearer tokens (JWT split, base64url, strict JSON header and
 * claims, claim rules) through the public verifiers, without network: the
 * configuration accepts the Auth emulator's unsigned tokens (alg none, as
 * in local development) and has no key URLs, so a token that reaches the
 * signature check fails with 503 after one failed, network-free fetch. The
 * clock is fixed. The first byte picks the Firebase or the OIDC verifier.
 */
#include "config.h"
#include "idtoken.h"
#include "log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static time_t fixed_now(void)
{
	return NOW;
}

static void setup(void)
{
	static struct fx_config cfg;

	if (cfg.project)
		return;
	cfg.project = "demo-fluxori";
	cfg.emulated_auth = true; /* firebase_keys_url and oidc_keys_url stay NULL */
	fx_config_set(&cfg);
	fx_log_init("fuzz", FX_LOG_ERROR);
	fx_idtoken_set_clock(fixed_now);
}

static bool is_nul_terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_claims c;
	struct fx_err e;
	int rc;

	setup();
	if (size < 1)
		return 0;
	fx_err_clear(&e);
	if (data[0] & 1)
		rc = fx_idtoken_verify_oidc((const char *)data + 1, size - 1, "https://fluxori.example/v1/jobs",
					    "scheduler@demo-fluxori.iam.gserviceaccount.com", &c, &e);
	else
		rc = fx_idtoken_verify((const char *)data + 1, size - 1, &c, &e);
	if (rc == 0) {
		/* Claims are NUL-terminated copies. */
		if (!is_nul_terminated(c.uid, sizeof(c.uid)) || !c.uid[0] ||
		    !is_nul_terminated(c.email, sizeof(c.email)) || !is_nul_terminated(c.role, sizeof(c.role)) ||
		    !is_nul_terminated(c.organization_id, sizeof(c.organization_id)) ||
		    !is_nul_terminated(c.sign_in_provider, sizeof(c.sign_in_provider)) || c.exp <= NOW - 300)
			abort();
	} else if (fx_err_http(e.kind) != 401 && fx_err_http(e.kind) != 403 && fx_err_http(e.kind) != 503) {
		abort();
	}
	return 0;
}
