/*
 * testjwt: JWTs for tests, minted with libjwt the way a signer does, or an
 * attacker who holds only public material. Test code only: a refusal by
 * libjwt fails the calling Criterion test. The token returned is the
 * caller's to free().
 */
#ifndef FX_TESTJWT_H
#define FX_TESTJWT_H

#include <jwt.h>

/*
 * Mints header {"alg", "typ":"JWT", "kid" unless kid is NULL} over the
 * members of claims (a JSON object text without duplicate keys), signed as
 * alg says with key: PEM private key text for RS256/RS512, the HMAC secret
 * for HS256 (any text, e.g. a public key PEM), NULL for JWT_ALG_NONE, which
 * gives "header.payload." with an empty signature segment.
 */
char *tj_mint(jwt_alg_t alg, const char *key, const char *kid, const char *claims);

#endif
