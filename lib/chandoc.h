/*
 * fx_chandoc: a sales channel as the API takes it (API.md § Channels):
 * the type-specific settings and credentials checked exactly, the address
 * the channel's calls go to, the last characters of a credential that the
 * API may show, and the channel's webhook URL. Pure (no I/O): the handler
 * checks the address with fx_egress and seals credentials with fx_seal.
 * Ownership: values written into caller-owned maps are copies; strings
 * returned through pointers borrow from the caller's json_object.
 * fx_chandoc_open is the one exception to "no I/O": it opens the sealed
 * credentials of a stored channel (fx_seal_open, no network).
 */
#ifndef FX_CHANDOC_H
#define FX_CHANDOC_H

#include "arena.h"
#include "channel.h"
#include "err.h"
#include "firestore.h"
#include "value.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* "shopify", "woocommerce", "takealot", NULL: the types in the API's spelling. */
extern const char *const fx_chandoc_types[];

/* Takealot's Seller API host, the base of every Takealot call outside demo projects. */
#define FX_CHANDOC_TAKEALOT_URL "https://seller-api.takealot.com"

/* Longest settings URL (siteUrl, baseUrl) in bytes. */
#define FX_CHANDOC_URL_MAX 2048
/* Credentials and webhook secrets: 8..512 characters of UTF-8 without control characters. */
#define FX_CHANDOC_SECRET_MIN 8
#define FX_CHANDOC_SECRET_MAX 512
/* Channel names: 1..100 bytes of UTF-8. */
#define FX_CHANDOC_NAME_MAX 100
/* settings.bufferDefault and a listing's buffer: 0..1e6 units. */
#define FX_CHANDOC_BUFFER_MAX 1000000
/* Bytes fx_chandoc_last4 needs: four characters of at most 4 bytes each, and NUL. */
#define FX_CHANDOC_LAST4_SIZE 17

/* Whether project is a demo-* project (emulator only): the one place baseUrl and local addresses are allowed. */
bool fx_chandoc_demo(const char *project);

/*
 * Checks settings (a JSON object, the API's "settings") of a channel of
 * type and writes them, normalized, into out (an FX_V_MAP the caller made):
 * shopify {shopDomain (a plain host ending .myshopify.com, lower-cased),
 * locationId (gid://shopify/Location/N, or N)}, woocommerce {siteUrl (https,
 * a host, no user, query or fragment; a trailing '/' dropped)}, takealot
 * {merchantWarehouseId? (digits, as a string or an integer)}; every type
 * {bufferDefault? (0..FX_CHANDOC_BUFFER_MAX, default 0), baseUrl? (http or
 * https URL, only when demo)}. -1 with a 400 naming the field
 * ("settings.shopDomain") for an unknown, missing or malformed one; out may
 * then hold part of the fields.
 */
FX_MUST_USE int fx_chandoc_settings(const char *type, json_object *in, bool demo, struct fx_value *out,
				    struct fx_err *e);

/*
 * Checks credentials (the API's "credentials" object) of type: shopify
 * {accessToken}, woocommerce {consumerKey, consumerSecret}, takealot
 * {apiKey}, each a secret (fx_chandoc_secret). Returns 0 with *plain, the
 * credentials as compact JSON text (malloc'd, for fx_seal; the caller
 * cleanses and frees it), and last4 (FX_CHANDOC_LAST4_SIZE bytes): the last
 * four characters of the token, consumer secret or API key. -1 with a 400
 * naming the field ("credentials.apiKey").
 */
FX_MUST_USE int fx_chandoc_credentials(const char *type, json_object *in, char **plain,
				       char last4[FX_CHANDOC_LAST4_SIZE], struct fx_err *e);

/*
 * A secret string in obj[key]: FX_CHANDOC_SECRET_MIN..MAX characters of
 * UTF-8 with no control character (it travels in HTTP headers). Missing:
 * 0 with *present false, or 400 when required. The message never holds the
 * value.
 */
FX_MUST_USE int fx_chandoc_secret(json_object *obj, const char *key, const char *field, bool required, const char **out,
				  bool *present, struct fx_err *e);

/*
 * The last four characters of the UTF-8 string s (all of it when shorter)
 * into out (len bytes), never splitting a multi-byte sequence. -1 when s is
 * not valid UTF-8 or out is too small (out then "").
 */
FX_MUST_USE int fx_chandoc_last4(const char *s, char *out, size_t len);

/*
 * The base URL a channel's calls go to, from its stored settings:
 * settings.baseUrl when present (demo projects only; *overridden true),
 * else https://{shopDomain}, the siteUrl, or FX_CHANDOC_TAKEALOT_URL. -1
 * with 500 INTERNAL when settings lack what the type needs or out (len
 * bytes) is too small.
 */
FX_MUST_USE int fx_chandoc_target(const char *type, const struct fx_value *settings, char *out, size_t len,
				  bool *overridden, struct fx_err *e);

/*
 * The channel's webhook URL "{base}/v1/channels/{id}/webhooks" into out
 * (len bytes): base is public_url when set (FLUXORI_PUBLIC_URL, a trailing
 * '/' ignored), else "{proto}://{host}" of the request, proto "https" only
 * when the request's forwarded proto says so, else "http". -1 when host is
 * missing or not a plain host[:port], or out is too small.
 */
FX_MUST_USE int fx_chandoc_webhook_url(const char *public_url, const char *proto, const char *host, const char *id,
				       char *out, size_t len);

/*
 * Opens a stored channel document (organizations/{org}/channels/{id}, read
 * whole) into *out for lib/channel: type, ids, the call target
 * (fx_chandoc_target; allow_private only for a demo project's baseUrl),
 * Shopify's locationId, Takealot's warehouse, and the credentials and
 * webhook secret unsealed with the document's path as aad. Strings live
 * in arena; the secrets among them are wiped by fx_chandoc_close. -1 with
 * 500 INTERNAL when the document lacks what its type needs or a sealed
 * value does not open (the message never holds a secret).
 */
FX_MUST_USE int fx_chandoc_open(const struct fx_doc *doc, const char *org, struct fx_arena *arena,
				struct fx_channel *out, struct fx_err *e);

/* Wipes the secrets fx_chandoc_open put into ch's arena strings and zeroes ch. Accepts a zeroed struct. */
void fx_chandoc_close(struct fx_channel *ch);

#endif
