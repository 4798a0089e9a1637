/* Channel settings and credentials as the API takes them; see chandoc.h. */
#include "chandoc.h"

#include "config.h"
#include "json.h"
#include "map.h"
#include "mem.h"
#include "seal.h"
#include "str.h"

#include <openssl/crypto.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *const fx_chandoc_types[] = {"shopify", "woocommerce", "takealot", NULL};

#define HOST_MAX 253
#define DIGITS_MAX 20 /* an id of digits: up to 2^64 */

bool fx_chandoc_demo(const char *project)
{
	return project && strncmp(project, "demo-", 5) == 0;
}

/* s[0..n) is one DNS label or more of [A-Za-z0-9-], dot-separated, none empty or hyphen-edged. */
static bool plain_host(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && s[n - 1] != '-';
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* An IPv6 literal's inside: hex digits, ':' and '.', at most 45 bytes. */
static bool ipv6_literal(const char *s, size_t n)
{
	if (n < 2 || n > 45)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
			return false;
	return true;
}

/* host[:port] of an authority: a plain host (an IPv4 address is one) or [IPv6], port 1..65535. */
static bool authority_ok(const char *a, size_t n)
{
	const char *colon = NULL;
	size_t hn;

	if (n > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', n);

		if (!close || !ipv6_literal(a + 1, (size_t)(close - a - 1)))
			return false;
		hn = (size_t)(close - a) + 1;
		if (hn == n)
			return true;
		if (a[hn] != ':')
			return false;
		colon = a + hn;
	} else {
		colon = memchr(a, ':', n);
		hn = colon ? (size_t)(colon - a) : n;
		if (!plain_host(a, hn))
			return false;
		if (!colon)
			return true;
	}
	{
		size_t pn = n - (size_t)(colon - a) - 1;
		unsigned long port = 0;

		if (pn == 0 || pn > 5 || !all_digits(colon + 1, pn))
			return false;
		for (size_t i = 0; i < pn; i++)
			port = port * 10 + (unsigned long)(colon[1 + i] - '0');
		return port >= 1 && port <= 65535;
	}
}

/*
 * A URL of the given schemes: scheme://host[:port][/path], no user info,
 * query, fragment, space or control byte. Copies it without a trailing '/'
 * into out (FX_CHANDOC_URL_MAX + 1 bytes).
 */
static int take_url(json_object *in, const char *key, const char *field, bool allow_http, struct fx_value *map,
		    struct fx_err *e)
{
	const char *s, *rest, *slash;
	char url[FX_CHANDOC_URL_MAX + 1];
	size_t n, an;
	bool present;

	if (fx_json_string(in, key, field, true, 1, FX_CHANDOC_URL_MAX, &s, &present, e) < 0)
		return -1;
	n = strlen(s);
	if (n > FX_CHANDOC_URL_MAX)
		return fx_err_invalid(e, field, "must be at most %d bytes", FX_CHANDOC_URL_MAX);
	if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (allow_http && strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else
		return fx_err_invalid(e, field, allow_http ? "must be an http or https URL" : "must be an https URL");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '@' || c == '\\')
			return fx_err_invalid(e, field,
					      "must be scheme://host[:port][/path] without user, query or "
					      "fragment");
	}
	slash = strchr(rest, '/');
	an = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!authority_ok(rest, an))
		return fx_err_invalid(e, field, "must name a host (and an optional port 1..65535)");
	if (fx_str_set(url, sizeof(url), s) < 0)
		return fx_err_invalid(e, field, "must be at most %d bytes", FX_CHANDOC_URL_MAX);
	while (n > 0 && url[n - 1] == '/' && (size_t)(rest - s) + an < n)
		url[--n] = '\0';
	fx_map_set_str(map, key, url);
	return 0;
}

static int take_shop_domain(json_object *in, struct fx_value *map, struct fx_err *e)
{
	static const char suffix[] = ".myshopify.com";
	const size_t sn = sizeof(suffix) - 1;
	const char *s;
	char host[HOST_MAX + 1];
	size_t n;

	if (fx_json_string(in, "shopDomain", "settings.shopDomain", true, 1, HOST_MAX, &s, NULL, e) < 0)
		return -1;
	n = strlen(s);
	if (n > HOST_MAX || !plain_host(s, n))
		return fx_err_invalid(e, "settings.shopDomain",
				      "must be a plain host name such as "
				      "my-shop.myshopify.com (no scheme, port or path)");
	for (size_t i = 0; i <= n; i++)
		host[i] = (char)tolower((unsigned char)s[i]);
	if (n <= sn || strcmp(host + n - sn, suffix) != 0 || host[n - sn - 1] == '.')
		return fx_err_invalid(e, "settings.shopDomain", "must end with .myshopify.com");
	fx_map_set_str(map, "shopDomain", host);
	return 0;
}

static int take_location(json_object *in, struct fx_value *map, struct fx_err *e)
{
	static const char prefix[] = "gid://shopify/Location/";
	const char *s, *digits;
	char gid[sizeof(prefix) + DIGITS_MAX];

	if (fx_json_string(in, "locationId", "settings.locationId", true, 1, 64, &s, NULL, e) < 0)
		return -1;
	digits = strncmp(s, prefix, sizeof(prefix) - 1) == 0 ? s + sizeof(prefix) - 1 : s;
	if (!all_digits(digits, strlen(digits)) || strlen(digits) > DIGITS_MAX ||
	    fx_str_fmt(gid, sizeof(gid), "%s%s", prefix, digits) < 0)
		return fx_err_invalid(e, "settings.locationId",
				      "must be gid://shopify/Location/<number> or the number");
	fx_map_set_str(map, "locationId", gid);
	return 0;
}

static int take_warehouse(json_object *in, struct fx_value *map, struct fx_err *e)
{
	json_object *v = NULL;
	char buf[DIGITS_MAX + 2];

	if (!json_object_object_get_ex(in, "merchantWarehouseId", &v) || !v)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);

		if (n < 1 || n == INT64_MAX || fx_str_fmt(buf, sizeof(buf), "%lld", (long long)n) < 0)
			return fx_err_invalid(e, "settings.merchantWarehouseId", "must be a positive number");
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);

		if (n > DIGITS_MAX || !all_digits(s, n) || strlen(s) != n || fx_str_set(buf, sizeof(buf), s) < 0)
			return fx_err_invalid(e, "settings.merchantWarehouseId", "must be digits");
	} else {
		return fx_err_invalid(e, "settings.merchantWarehouseId", "must be a number or a string of digits");
	}
	fx_map_set_str(map, "merchantWarehouseId", buf);
	return 0;
}

int fx_chandoc_settings(const char *type, json_object *in, bool demo, struct fx_value *out, struct fx_err *e)
{
	static const char *const shopify[] = {"shopDomain", "locationId", "bufferDefault", "baseUrl", NULL};
	static const char *const woo[] = {"siteUrl", "bufferDefault", "baseUrl", NULL};
	static const char *const takealot[] = {"merchantWarehouseId", "bufferDefault", "baseUrl", NULL};
	int t = type ? fx_json_enum_index(type, fx_chandoc_types) : -1;
	const char *const *allowed = t == 0 ? shopify : t == 1 ? woo : takealot;
	int64_t buffer = 0;
	bool present;

	if (t < 0)
		return fx_err_invalid(e, "type", "must be shopify, woocommerce or takealot");
	if (!in || !json_object_is_type(in, json_type_object))
		return fx_err_invalid(e, "settings", "must be an object");
	if (fx_json_allow(in, allowed, "settings.", e) < 0)
		return -1;
	if (t == 0 && (take_shop_domain(in, out, e) < 0 || take_location(in, out, e) < 0))
		return -1;
	if (t == 1 && take_url(in, "siteUrl", "settings.siteUrl", false, out, e) < 0)
		return -1;
	if (t == 2 && take_warehouse(in, out, e) < 0)
		return -1;
	if (fx_json_int64(in, "bufferDefault", "settings.bufferDefault", false, 0, FX_CHANDOC_BUFFER_MAX, &buffer,
			  &present, e) < 0)
		return -1;
	fx_map_set_int(out, "bufferDefault", buffer);
	if (json_object_object_get_ex(in, "baseUrl", NULL)) {
		if (!demo)
			return fx_err_invalid(e, "settings.baseUrl", "is accepted only in demo projects");
		if (take_url(in, "baseUrl", "settings.baseUrl", true, out, e) < 0)
			return -1;
	}
	return 0;
}

int fx_chandoc_secret(json_object *obj, const char *key, const char *field, bool required, const char **out,
		      bool *present, struct fx_err *e)
{
	const char *s;
	bool here = false;

	if (present)
		*present = false;
	if (fx_json_string(obj, key, field, required, FX_CHANDOC_SECRET_MIN, FX_CHANDOC_SECRET_MAX, &s, &here, e) < 0)
		return -1;
	if (!here)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fx_err_invalid(e, field, "must not contain control characters");
	*out = s;
	if (present)
		*present = true;
	return 0;
}

int fx_chandoc_credentials(const char *type, json_object *in, char **plain, char last4[FX_CHANDOC_LAST4_SIZE],
			   struct fx_err *e)
{
	static const char *const shopify[] = {"accessToken", NULL};
	static const char *const woo[] = {"consumerKey", "consumerSecret", NULL};
	static const char *const takealot[] = {"apiKey", NULL};
	int t = type ? fx_json_enum_index(type, fx_chandoc_types) : -1;
	const char *const *keys = t == 0 ? shopify : t == 1 ? woo : takealot;
	const char *shown = NULL;
	json_object *copy = NULL;
	char field[64];
	size_t len;
	int rc = -1;

	*plain = NULL;
	last4[0] = '\0';
	if (t < 0)
		return fx_err_invalid(e, "type", "must be shopify, woocommerce or takealot");
	if (!in || !json_object_is_type(in, json_type_object))
		return fx_err_invalid(e, "credentials", "must be an object");
	if (fx_json_allow(in, keys, "credentials.", e) < 0)
		return -1;
	copy = json_object_new_object();
	for (size_t i = 0; keys[i]; i++) {
		const char *s = NULL;

		fx_str_text(field, sizeof(field), "credentials.%s", keys[i]);
		if (fx_chandoc_secret(in, keys[i], field, true, &s, NULL, e) < 0)
			goto out;
		json_object_object_add(copy, keys[i], json_object_new_string(s));
		shown = s; /* the last key: the token, the consumer secret, the API key */
	}
	if (fx_chandoc_last4(shown, last4, FX_CHANDOC_LAST4_SIZE) < 0) {
		fx_err_set(e, FX_INTERNAL, "the last characters of a credential do not fit");
		goto out;
	}
	{
		const char *text = fx_json_text(copy, &len);

		*plain = fx_mem_xmemdup(text, len + 1);
	}
	rc = 0;
out:
	json_object_put(copy);
	return rc;
}

int fx_chandoc_last4(const char *s, char *out, size_t len)
{
	size_t n = s ? strlen(s) : 0, start = 0, chars = 0, i = 0;
	size_t starts[4] = {0};

	if (len > 0)
		out[0] = '\0';
	if (!s)
		return -1;
	while (i < n) {
		size_t c = fx_str_utf8_char(s + i, n - i);

		if (c == 0)
			return -1;
		starts[chars % 4] = i;
		chars++;
		i += c;
	}
	if (chars > 4)
		start = starts[chars % 4];
	return fx_str_copy(out, len, s + start, n - start);
}

int fx_chandoc_target(const char *type, const struct fx_value *settings, char *out, size_t len, bool *overridden,
		      struct fx_err *e)
{
	const char *base = fx_value_path_str(settings, "baseUrl");
	int t = type ? fx_json_enum_index(type, fx_chandoc_types) : -1;
	int rc = -1;

	*overridden = base != NULL;
	if (base)
		rc = fx_str_set(out, len, base);
	else if (t == 0 && fx_value_path_str(settings, "shopDomain"))
		rc = fx_str_fmt(out, len, "https://%s", fx_value_path_str(settings, "shopDomain"));
	else if (t == 1 && fx_value_path_str(settings, "siteUrl"))
		rc = fx_str_set(out, len, fx_value_path_str(settings, "siteUrl"));
	else if (t == 2)
		rc = fx_str_set(out, len, FX_CHANDOC_TAKEALOT_URL);
	if (rc < 0)
		return fx_err_set(e, FX_INTERNAL, "the channel's settings name no address it can call");
	return 0;
}

int fx_chandoc_webhook_url(const char *public_url, const char *proto, const char *host, const char *id, char *out,
			   size_t len)
{
	if (len > 0)
		out[0] = '\0';
	if (!id || !*id)
		return -1;
	if (public_url && *public_url) {
		size_t n = strlen(public_url);

		while (n > 0 && public_url[n - 1] == '/')
			n--;
		return fx_str_fmt(out, len, "%.*s/v1/channels/%s/webhooks", (int)n, public_url, id);
	}
	if (!host || !authority_ok(host, strlen(host)))
		return -1;
	return fx_str_fmt(out, len, "%s://%s/v1/channels/%s/webhooks",
			  proto && strcmp(proto, "https") == 0 ? "https" : "http", host, id);
}

/* The string key of the opened credentials object copied into arena; NULL when absent. */
static const char *secret_copy(json_object *obj, const char *key, struct fx_arena *arena)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return fx_arena_strdup(arena, json_object_get_string(v));
}

/* Opens sealed (for the document rel) into an arena string; the plain text on the heap is wiped. */
static const char *open_into(const char *sealed, const char *rel, struct fx_arena *arena, struct fx_err *e)
{
	char *plain = NULL;
	const char *copy;
	size_t n = 0;

	if (fx_seal_open(sealed, rel, &plain, &n, e) < 0)
		return NULL;
	copy = fx_arena_strndup(arena, plain, n);
	fx_seal_clear_free(plain, n);
	if (!copy)
		fx_err_set(e, FX_INTERNAL, "request memory spent");
	return copy;
}

static int open_credentials(struct fx_channel *out, const char *sealed, const char *rel, struct fx_arena *arena,
			    struct fx_err *e)
{
	const char *text = open_into(sealed, rel, arena, e);
	json_object *obj = NULL;
	int rc = -1;

	if (!text)
		return -1;
	obj = json_tokener_parse(text);
	OPENSSL_cleanse((char *)text, strlen(text));
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		fx_err_set(e, FX_INTERNAL, "channel %s: the opened credentials are not an object", out->id);
		goto out;
	}
	out->access_token = secret_copy(obj, "accessToken", arena);
	out->consumer_key = secret_copy(obj, "consumerKey", arena);
	out->consumer_secret = secret_copy(obj, "consumerSecret", arena);
	out->api_key = secret_copy(obj, "apiKey", arena);
	if ((out->type == FX_CHANNEL_SHOPIFY && !out->access_token) ||
	    (out->type == FX_CHANNEL_WOOCOMMERCE && (!out->consumer_key || !out->consumer_secret)) ||
	    (out->type == FX_CHANNEL_TAKEALOT && !out->api_key)) {
		fx_err_set(e, FX_INTERNAL, "channel %s: the opened credentials lack what its type needs", out->id);
		goto out;
	}
	rc = 0;
out:
	json_object_put(obj);
	return rc;
}

int fx_chandoc_open(const struct fx_doc *doc, const char *org, struct fx_arena *arena, struct fx_channel *out,
		    struct fx_err *e)
{
	const struct fx_config *c = fx_config_get();
	const char *type = fx_value_path_str(&doc->fields, "type"), *sealed, *secret, *rel;
	const struct fx_value *settings = fx_value_path(&doc->fields, "settings");
	char url[FX_CHANDOC_URL_MAX + 64];
	bool overridden = false;
	int t;

	memset(out, 0, sizeof(*out));
	t = type ? fx_channel_type_parse(type) : -1;
	if (t < 0 || !settings || !doc->id || !org)
		return fx_err_set(e, FX_INTERNAL, "channel %s: no known type or settings", doc->id ? doc->id : "?");
	out->type = (enum fx_channel_type)t;
	rel = fx_arena_printf(arena, "organizations/%s/channels/%s", org, doc->id);
	out->id = fx_arena_strdup(arena, doc->id);
	out->organization_id = fx_arena_strdup(arena, org);
	if (!rel || !out->id || !out->organization_id ||
	    fx_chandoc_target(type, settings, url, sizeof(url), &overridden, e) < 0 ||
	    !(out->base_url = fx_arena_strdup(arena, url)))
		return fx_err_set(e, FX_INTERNAL, "channel %s: no address to call", doc->id);
	out->allow_private = overridden && fx_chandoc_demo(c ? c->project : NULL);
	if (fx_value_path_str(settings, "locationId"))
		out->location_id = fx_arena_strdup(arena, fx_value_path_str(settings, "locationId"));
	if (fx_value_path_str(settings, "merchantWarehouseId"))
		out->warehouse_id = fx_arena_strdup(arena, fx_value_path_str(settings, "merchantWarehouseId"));
	sealed = fx_value_path_str(&doc->fields, "sealed.credentials");
	if (!sealed)
		return fx_err_set(e, FX_INTERNAL, "channel %s has no credentials", doc->id);
	if (open_credentials(out, sealed, rel, arena, e) < 0)
		goto fail;
	secret = fx_value_path_str(&doc->fields, "sealed.webhookSecret");
	if (secret && !(out->webhook_secret = open_into(secret, rel, arena, e)))
		goto fail;
	return 0;
fail:
	fx_chandoc_close(out);
	return -1;
}

static void wipe(const char *s)
{
	if (s)
		OPENSSL_cleanse((char *)s, strlen(s));
}

void fx_chandoc_close(struct fx_channel *ch)
{
	wipe(ch->access_token);
	wipe(ch->consumer_key);
	wipe(ch->consumer_secret);
	wipe(ch->api_key);
	wipe(ch->webhook_secret);
	memset(ch, 0, sizeof(*ch));
}
