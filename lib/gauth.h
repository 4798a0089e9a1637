/*
 * fx_gauth: OAuth2 access tokens for calls to Google. On Cloud Run from the
 * metadata server, elsewhere from a service-account key
 * (GOOGLE_APPLICATION_CREDENTIALS, a self-signed JWT exchanged at the token
 * endpoint), and "owner" for the emulators. Tokens are cached process-wide
 * and refreshed 5 minutes before expiry, one refresh at a time.
 */
#ifndef FX_GAUTH_H
#define FX_GAUTH_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>

/* Which credential a call needs: emulators take "owner", Google a real token. */
enum fx_gauth_target { FX_GAUTH_FIRESTORE, FX_GAUTH_IDENTITY, FX_GAUTH_STORAGE, FX_GAUTH_GOOGLE };

/*
 * Writes "Authorization: Bearer <token>" for target into out. Returns 0,
 * or -1 with 503 UNAVAILABLE when no token can be had.
 */
int fx_gauth_header(enum fx_gauth_target target, char *out, size_t out_len, struct fx_err *e);

#endif
