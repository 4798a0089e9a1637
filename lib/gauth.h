/*
 * fx_gauth: OAuth2 access tokens and signatures for calls to Google. With
 * GOOGLE_APPLICATION_CREDENTIALS (config credentials) naming a
 * service-account key file, a self-signed RS256 assertion (built and signed
 * with libjwt) is exchanged at the token endpoint and the file's key signs
 * locally (OpenSSL); otherwise the metadata server supplies tokens and IAM
 * Credentials signBlob signs.
 * Emulator targets get "owner". One token is cached process-wide and
 * refreshed when less than 5 minutes are left, one refresh at a time.
 * Everything here is thread-safe; callers own the buffers they pass and
 * nothing returned needs freeing. Tokens and keys are never logged.
 */
#ifndef FX_GAUTH_H
#define FX_GAUTH_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Longest access token accepted from Google; a header buffer of FX_GAUTH_HEADER_MAX always fits. */
#define FX_GAUTH_MAX_TOKEN 4000
#define FX_GAUTH_HEADER_MAX 4096

/* Which credential a call needs: emulators take "owner", Google a real token. */
enum fx_gauth_target { FX_GAUTH_FIRESTORE, FX_GAUTH_IDENTITY, FX_GAUTH_STORAGE, FX_GAUTH_GOOGLE };

/*
 * Writes "Authorization: Bearer <token>" for target into out. Returns 0,
 * or -1 with 503 UNAVAILABLE when no token can be had (the message says
 * why: unreadable key file, token endpoint or metadata server failure),
 * 500 INTERNAL when out_len is too small for the header.
 */
FX_MUST_USE int fx_gauth_header(enum fx_gauth_target target, char *out, size_t out_len, struct fx_err *e);

/*
 * Writes the service account's email into email: client_email of the key
 * file, else the metadata server's default account (fetched once, then
 * cached). Returns 0, or -1 with 503 UNAVAILABLE when it cannot be had,
 * 500 INTERNAL when len is too small.
 */
FX_MUST_USE int fx_gauth_service_account(char *email, size_t len, struct fx_err *e);

/*
 * Signs n bytes of data (at most 64 KiB) with RSASSA-PKCS1-v1_5 SHA-256 as
 * the service account: locally with the key file's private key, otherwise
 * through IAM Credentials signBlob. *sig_len holds sig's capacity on entry
 * (256 fits a 2048-bit key; 512 any key) and the signature's length on
 * return. Returns 0, or -1 with e: 503 UNAVAILABLE when no token, key or
 * answer can be had, 500 INTERNAL when signing is refused (e.g. missing
 * iam.serviceAccounts.signBlob permission) or sig is too small, 400 for an
 * oversized input.
 */
FX_MUST_USE int fx_gauth_sign(const char *data, size_t n, unsigned char *sig, size_t *sig_len, struct fx_err *e);

/* Tests: forgets the token, the key file and the cached email. Not safe while calls run. */
void fx_gauth_reset(void);

/* Tests: replaces the clock used for token expiry and assertions (NULL restores time()). */
void fx_gauth_set_clock(time_t (*now)(void));

#endif
