/*
 * fx_identity: Firebase Auth user administration through the Identity
 * Toolkit v1 REST API ({identity_url}/v1/projects/{project}/accounts...),
 * the same calls the Admin SDKs make, so one code path serves the Auth
 * emulator (config auth_emulator: "Bearer owner") and Google (an OAuth2
 * token from fx_gauth). Records are copied into the caller's struct
 * fx_user_record, so nothing returned here needs freeing. Every call is
 * thread-safe, bounded (inputs are checked before anything is sent,
 * answers are capped and every copied field must fit), and returns 0, or
 * -1 with e set:
 *   400 INVALID_ARGUMENT  an input is refused (the detail names the field as
 *                         Identity Toolkit and our contract do: email,
 *                         displayName; uid), before any call or because
 *                         Google refused it
 *   404 NOT_FOUND         no such user (Google's USER_NOT_FOUND)
 *   409 ALREADY_EXISTS    the email is taken (EMAIL_EXISTS, DUPLICATE_EMAIL)
 *   503 UNAVAILABLE       Google unreachable, timed out, 5xx or 429
 *   502 UNAVAILABLE       an answer that is oversized or not what the API promises
 *   500 INTERNAL          any other refusal: our request or our credentials
 *                         were wrong (the message carries Google's reason)
 * Lookups are retried as idempotent calls, writes only when nothing
 * reached Google (FX_RETRY_UNAVAILABLE).
 */
#ifndef FX_IDENTITY_H
#define FX_IDENTITY_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

#define FX_IDENTITY_UID_MAX 128 /* bytes */
#define FX_IDENTITY_EMAIL_MAX 320 /* bytes, ASCII */
#define FX_IDENTITY_DISPLAY_NAME_MAX 256 /* Unicode code points */
#define FX_IDENTITY_CLAIMS_MAX 1000 /* bytes of the serialized JSON object */

struct fx_user_record {
	char uid[FX_IDENTITY_UID_MAX + 1];
	char email[FX_IDENTITY_EMAIL_MAX + 1]; /* "" when the user has none */
	char display_name[4 * FX_IDENTITY_DISPLAY_NAME_MAX + 1]; /* UTF-8, "" when none */
	bool disabled;
	bool email_verified;
	/* a password or a linked provider (providerUserInfo): someone can sign in as this account */
	bool can_sign_in;
	int64_t valid_since; /* seconds (REST validSince, a string), 0 if absent */
	char custom_claims[FX_IDENTITY_CLAIMS_MAX + 1]; /* customAttributes as stored, "" if none */
};

/*
 * Reads the user with this uid (1..128 bytes of UTF-8) into out. Returns
 * 0, or -1 with 404 NOT_FOUND when there is no such user (or the others
 * above). out is cleared first and meaningful only on success.
 */
FX_MUST_USE int fx_identity_lookup(const char *uid, struct fx_user_record *out, struct fx_err *e);

/*
 * Reads the user whose email is email (Identity Toolkit compares it
 * without regard to case). Returns 0, or -1 with 404 NOT_FOUND when none
 * has it, 500 INTERNAL when several accounts share it (a project allowing
 * several accounts per email). out as for fx_identity_lookup.
 */
FX_MUST_USE int fx_identity_lookup_email(const char *email, struct fx_user_record *out, struct fx_err *e);

/*
 * Creates a user with email (one "@", ASCII, at most 320 bytes) and an
 * optional display name (NULL or "" for none; at most 256 code points of
 * UTF-8), without a password: they sign in by email link or set one
 * through a reset in production. Returns 0 with the new user's record in
 * out (as looked up after creation; if that lookup fails, the fields the
 * create answer carried), or -1 with 409 ALREADY_EXISTS when the email is
 * taken. Google stores emails in lower case; out shows what it stored.
 * A create whose first attempt reached Google is not repeated, so a
 * failure that hid a success shows up as 409 on the caller's retry.
 */
FX_MUST_USE int fx_identity_create(const char *email, const char *display_name, struct fx_user_record *out,
				   struct fx_err *e);

/*
 * Replaces the user's custom claims with claims_json: the text of one JSON
 * object of at most 1000 bytes, stored as given and copied into the user's
 * next ID tokens (not into tokens already issued). "{}" or NULL clears
 * them. Refused with 400 (field "claims") before any call: not strict JSON
 * (duplicate keys included), not an object, too long, or a top-level key
 * Firebase reserves (acr amr at_hash aud auth_time azp cnf c_hash exp
 * firebase iat iss jti nbf nonce sub). Returns 0, or -1 with 404 when no
 * such user.
 */
FX_MUST_USE int fx_identity_set_claims(const char *uid, const char *claims_json, struct fx_err *e);

/* Disables or re-enables the user. Returns 0, or -1 with 404 when no such user. */
FX_MUST_USE int fx_identity_set_disabled(const char *uid, bool disabled, struct fx_err *e);

/*
 * Revokes the user's refresh tokens by setting validSince to now, in
 * seconds rounded up (as the Node Admin SDK does), so ID tokens issued
 * earlier in the same second count as revoked too. Returns 0, or -1 with
 * 404 when no such user. Token checks against validSince are the
 * verifier's job (PROTOCOLS §1.5).
 */
FX_MUST_USE int fx_identity_revoke(const char *uid, struct fx_err *e);

/* Deletes the user. A user that does not exist is not an error: returns 0. */
FX_MUST_USE int fx_identity_delete(const char *uid, struct fx_err *e);

#endif
