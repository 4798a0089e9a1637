/*
 * fx_tokencache: verified tokens, so a caller's next request skips the
 * signature check. Keyed by SHA-256 of the token (the token itself is never
 * kept), an entry holds the claims until the token's exp and no longer.
 * Bounded: a fixed table where a new entry replaces the one in its slot.
 * Only successful verifications enter. The cache answers "this token is
 * genuine", never "this principal may act": fx_authz still checks Firebase
 * Auth's word on the user and the member profile on every request, and
 * forgets a uid's entries when it finds the user gone, disabled or its
 * sessions revoked.
 */
#ifndef FX_TOKENCACHE_H
#define FX_TOKENCACHE_H

#include "idtoken.h"

#include <stdbool.h>
#include <stddef.h>

/* Which verifier a token passed: a Firebase ID token or a Google OIDC token. */
enum fx_token_kind { FX_TOKEN_FIREBASE, FX_TOKEN_OIDC };

#define FX_TOKENCACHE_SLOTS 1024

/* Copies the claims of a cached, unexpired token into out; false when absent. */
bool fx_tokencache_get(enum fx_token_kind kind, const char *token, size_t len, struct fx_claims *out);

/* Remembers a token that just passed verification with claims. */
void fx_tokencache_put(enum fx_token_kind kind, const char *token, size_t len, const struct fx_claims *claims);

/* Drops every entry of uid. */
void fx_tokencache_forget_uid(const char *uid);

/* Tests: empties the cache; replaces the clock (NULL restores time()). */
void fx_tokencache_reset(void);
void fx_tokencache_set_clock(time_t (*now)(void));

#endif
