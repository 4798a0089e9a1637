/*
 * fx_idtoken: verifies the bearer tokens callers present. Firebase ID
 * tokens (end users) and Google-signed OIDC tokens (Cloud Scheduler) are
 * RS256 JWTs checked with OpenSSL directly (EVP_DigestVerify): the
 * algorithm is pinned, every claim is checked before the signature, and
 * keys come only from the configured Google certificate URLs, never from
 * the token. Keys are parsed once per fetch, cached per Cache-Control
 * max-age and shared by all threads; one fetch runs at a time. Claims are
 * copied into the caller's struct fx_claims, so nothing returned here
 * needs freeing.
 *
 * Why not libjwt, which builds the one JWT we sign (gauth.h): Debian 12's
 * libjwt 1.10 takes the algorithm from the token's own header, so its
 * jwt_decode accepts alg none when given no key, and an HS256 token whose
 * HMAC secret is our RSA public key PEM (public, so anyone can mint one)
 * when given that PEM; and it checks no claim: not exp, iat, aud, iss
 * (jwt_valid_* came in 1.12). It also takes only a PEM public key, not
 * Google's certificates, and parses it on every call. Made safe, it would
 * be left with one EVP_DigestVerify. tests/lib/test_idtoken.c mints both
 * forgeries with libjwt and shows libjwt accepting what this module
 * refuses (../shared/PROTOCOLS.md 0.1).
 */
#ifndef FX_IDTOKEN_H
#define FX_IDTOKEN_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define FX_IDTOKEN_MAX_LEN 4096

struct fx_claims {
	char uid[129]; /* sub */
	char email[321];
	bool email_verified;
	char organization_id[129]; /* custom claims, "" when absent */
	char role[16];
	int64_t iat, exp, auth_time; /* auth_time is 0 for OIDC tokens */
	char sign_in_provider[64]; /* firebase.sign_in_provider, "" when absent */
};

/*
 * Verifies a Firebase ID token of len bytes (no "Bearer " prefix) for the
 * configured project and fills out. Returns 0, or -1 with e: 401
 * UNAUTHENTICATED when the token is invalid (the message says why without
 * echoing the token), 503 UNAVAILABLE when no signing keys can be had at
 * all. With config emulated_auth (an explicit opt-in that fx_config_load
 * grants only to a demo- project, and that counts here only for one)
 * unsigned emulator tokens ({"alg":"none"}, empty third segment) pass the
 * same claim checks; otherwise alg none is refused.
 * Thread-safe. out is cleared first and meaningful only on success.
 */
FX_MUST_USE int fx_idtoken_verify(const char *token, size_t len, struct fx_claims *out, struct fx_err *e);

/*
 * Verifies a Google-signed OIDC token (Cloud Scheduler, Pub/Sub push):
 * RS256 by a key from config oidc_keys_url, iss https://accounts.google.com
 * or accounts.google.com, aud exactly audience, iat/exp within 300 s of
 * skew and a lifetime under a day, email_verified true. Returns 0 when the
 * token's email is in allowed_emails (comma-separated, exact match), or -1
 * with e: 401 UNAUTHENTICATED for an invalid token (including an
 * unverified email), 403 PERMISSION_DENIED for a valid token whose email is
 * not allowed, 503 UNAVAILABLE when no keys can be had, 500 INTERNAL when
 * audience is not configured. Thread-safe. out as for fx_idtoken_verify.
 */
FX_MUST_USE int fx_idtoken_verify_oidc(const char *token, size_t len, const char *audience, const char *allowed_emails,
				       struct fx_claims *out, struct fx_err *e);

/*
 * Readiness: returns 0 when Firebase keys are loaded and usable for
 * verification, fetching them first when they are missing or past their
 * max-age; -1 with 503 UNAVAILABLE otherwise. Always 0 in emulator mode.
 */
FX_MUST_USE int fx_idtoken_ready(struct fx_err *e);

/*
 * A worker's warm-up (lib/worker.c): fx_idtoken_ready, except that a
 * failed fetch does not make the requests that follow wait out the
 * retry pause (10 s) before they try again: the first one fetches itself.
 */
FX_MUST_USE int fx_idtoken_warm_up(struct fx_err *e);

/* The same for Google's OIDC keys (config oidc_keys_url): Cloud Scheduler's tokens, the job routes. */
FX_MUST_USE int fx_idtoken_warm_up_oidc(struct fx_err *e);

/* Tests: replaces the clock used for claims and key expiry (NULL restores time()). */
void fx_idtoken_set_clock(time_t (*now)(void));

/* Tests: drops both key caches and their fetch history. Not safe while verifications run. */
void fx_idtoken_reset_cache(void);

#endif
