/*
 * fx_seal: merchants' secrets at rest (channel credentials, webhook secrets):
 * AES-256-GCM under the deployment's key, a fresh 12-byte random nonce per
 * seal, a 16-byte tag, and the owning document's path bound in as additional
 * data, so a sealed value copied into another document does not open.
 *
 * Sealed text: "v1:<key id>:<base64(nonce | ciphertext | tag)>", the key id
 * being the first 8 lower-case hex digits of SHA-256(key), so that after a
 * rotation a value sealed under the previous key still names it.
 *
 * Keys: read once at start (fx_config_load calls fx_seal_keys_load) from the
 * file FLUXORI_SECRETS_KEY_FILE (what Cloud Run mounts from Secret Manager),
 * which holds the 32-byte key as 64 hex digits or as padded standard base64
 * (44 characters), optionally followed by white space (a final newline).
 * FLUXORI_SECRETS_OLD_KEY_FILE, same format, is the previous key during a
 * rotation: it only opens. In a demo- project with no key file, a fixed demo
 * key committed in lib/seal.c is used (a warning is logged once); in any other
 * project a missing key file refuses the start of every worker. Key material
 * lives only in this module and is wiped (OPENSSL_cleanse) when replaced or
 * released. After the load the keys are read-only, so every call is
 * thread-safe.
 *
 * Ownership: every argument is borrowed for the call; results are malloc'd
 * and the caller's (free an opened secret with fx_seal_clear_free).
 */
#ifndef FX_SEAL_H
#define FX_SEAL_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>

/* The largest secret fx_seal takes, in bytes. */
#define FX_SEAL_MAX_PLAIN 16384

/* Length of a key id (hex digits) without the NUL. */
#define FX_SEAL_KEY_ID_LEN 8

/*
 * Seals plain[0..n) under the deployment key with aad (the owning document's
 * relative path, so a sealed value copied to another document does not
 * open). *out: malloc'd printable text "v1:<key id>:<base64(nonce|ciphertext|tag)>".
 * Returns 0, or -1 with 400 INVALID_ARGUMENT when n exceeds
 * FX_SEAL_MAX_PLAIN, 500 INTERNAL when no key is loaded or OpenSSL fails
 * (*out is then NULL).
 */
FX_MUST_USE int fx_seal(const char *plain, size_t n, const char *aad, char **out, struct fx_err *e);

/*
 * Opens a sealed value under the current or the old key, whichever its key
 * id names; -1 with 500 INTERNAL (no detail) when it does not open (wrong
 * aad, a changed byte, a cut value, an unknown key id, not sealed text).
 * *out malloc'd, NUL-terminated (*n excludes the NUL); NULL on failure.
 */
FX_MUST_USE int fx_seal_open(const char *sealed, const char *aad, char **out, size_t *n, struct fx_err *e);

/*
 * Whether sealed names the current key: false for a value sealed under the
 * old key (to be re-sealed during a rotation) or for anything else.
 */
bool fx_seal_is_current(const char *sealed);

/* Wipes n bytes of p and frees it; accepts NULL. */
void fx_seal_clear_free(char *p, size_t n);

/*
 * Loads the keys: from key_file (NULL or "": none), the old key from
 * old_key_file (NULL or "": none). Without key_file, a project starting with
 * "demo-" gets the demo key (and one warning in the log); any other project
 * is refused. Returns 0, or -1 with 500 INTERNAL naming the variable
 * (FLUXORI_SECRETS_KEY_FILE or FLUXORI_SECRETS_OLD_KEY_FILE) and what is wrong
 * with its file, never its contents. On failure no key is loaded.
 */
FX_MUST_USE int fx_seal_keys_load(const char *project, const char *key_file, const char *old_key_file,
				  struct fx_err *e);

/* Wipes and forgets the loaded keys (config release, tests). */
void fx_seal_keys_clear(void);

/* The current key's id into out[FX_SEAL_KEY_ID_LEN + 1]; "" when none is loaded. */
void fx_seal_key_id(char out[FX_SEAL_KEY_ID_LEN + 1]);

#endif
