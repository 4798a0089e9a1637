#include "chandoc.h"

#include "err.h"
#include "json.h"
#include "map.h"
#include "seal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Runs fx_chandoc_settings on the JSON text; the map goes to out (cleaned by the caller). */
static int settings(const char *type, const char *json, bool demo, struct fx_value *out, struct fx_err *e)
{
	json_object *in = json_tokener_parse(json);
	int rc;

	cr_assert_not_null(in, "%s", json);
	fx_value_map(out);
	fx_err_clear(e);
	rc = fx_chandoc_settings(type, in, demo, out, e);
	json_object_put(in);
	return rc;
}

static void assert_refused(const char *type, const char *json, bool demo, const char *field)
{
	struct fx_value out = {0};
	struct fx_err e;

	cr_assert_eq(settings(type, json, demo, &out, &e), -1, "%s accepted", json);
	cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT), "%s", e.message);
	cr_assert_eq(e.ndetails, 1, "%s: %s", json, e.message);
	cr_assert_str_eq(e.details[0].field, field, "%s: %s", json, e.details[0].reason);
	fx_value_cleanup(&out);
}

Test(settings, shopify_domain_is_lower_cased_and_location_becomes_a_gid)
{
	struct fx_value out = {0};
	struct fx_err e;
	int64_t buffer = -1;

	cr_assert_eq(settings("shopify", "{\"shopDomain\":\"My-Shop.MyShopify.com\",\"locationId\":\"123\"}", false,
			      &out, &e),
		     0, "%s", e.message);
	cr_assert_str_eq(fx_value_path_str(&out, "shopDomain"), "my-shop.myshopify.com");
	cr_assert_str_eq(fx_value_path_str(&out, "locationId"), "gid://shopify/Location/123");
	cr_assert(fx_value_path_int(&out, "bufferDefault", &buffer));
	cr_assert_eq(buffer, 0);
	fx_value_cleanup(&out);
}

Test(settings, shopify_domain_must_be_a_plain_myshopify_host)
{
	static const char *const bad[] = {
		"{\"shopDomain\":\"https://a.myshopify.com\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\"a.myshopify.com:443\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\"a.myshopify.com/admin\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\"myshopify.com\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\".myshopify.com\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\"a.myshopify.com.evil.example\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\"evilmyshopify.com\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\"127.0.0.1\",\"locationId\":\"1\"}",
		"{\"shopDomain\":\"a..myshopify.com\",\"locationId\":\"1\"}",
		"{\"locationId\":\"1\"}",
		NULL,
	};

	for (size_t i = 0; bad[i]; i++)
		assert_refused("shopify", bad[i], true, "settings.shopDomain");
}

Test(settings, shopify_location_must_be_a_location_gid)
{
	assert_refused("shopify", "{\"shopDomain\":\"a.myshopify.com\",\"locationId\":\"gid://shopify/Product/1\"}",
		       false, "settings.locationId");
	assert_refused("shopify", "{\"shopDomain\":\"a.myshopify.com\"}", false, "settings.locationId");
}

Test(settings, unknown_fields_are_named_per_type)
{
	assert_refused("woocommerce", "{\"siteUrl\":\"https://shop.example.com\",\"shopDomain\":\"a.myshopify.com\"}",
		       false, "settings.shopDomain");
	assert_refused("takealot", "{\"siteUrl\":\"https://shop.example.com\"}", false, "settings.siteUrl");
	assert_refused("shopify", "{\"shopDomain\":\"a.myshopify.com\",\"locationId\":\"1\",\"apiKey\":\"x\"}", false,
		       "settings.apiKey");
}

Test(settings, site_url_is_https_with_a_host_and_loses_a_trailing_slash)
{
	struct fx_value out = {0};
	struct fx_err e;

	cr_assert_eq(settings("woocommerce", "{\"siteUrl\":\"https://shop.example.co.za/store/\"}", false, &out, &e), 0,
		     "%s", e.message);
	cr_assert_str_eq(fx_value_path_str(&out, "siteUrl"), "https://shop.example.co.za/store");
	fx_value_cleanup(&out);
	cr_assert_eq(settings("woocommerce", "{\"siteUrl\":\"https://[2001:db8::1]:8443/\"}", false, &out, &e), 0, "%s",
		     e.message);
	cr_assert_str_eq(fx_value_path_str(&out, "siteUrl"), "https://[2001:db8::1]:8443");
	fx_value_cleanup(&out);
}

Test(settings, site_url_refuses_http_user_info_queries_and_bad_ports)
{
	static const char *const bad[] = {
		"{\"siteUrl\":\"http://shop.example.com\"}",
		"{\"siteUrl\":\"https://\"}",
		"{\"siteUrl\":\"https://user:pw@shop.example.com\"}",
		"{\"siteUrl\":\"https://shop.example.com?x=1\"}",
		"{\"siteUrl\":\"https://shop.example.com#top\"}",
		"{\"siteUrl\":\"https://shop.example.com:0\"}",
		"{\"siteUrl\":\"https://shop.example.com:70000\"}",
		"{\"siteUrl\":\"https://shop example.com\"}",
		"{\"siteUrl\":\"ftp://shop.example.com\"}",
		"{\"siteUrl\":\"https://shop.example.com\\r\\nX: y\"}",
		"{}",
		NULL,
	};

	for (size_t i = 0; bad[i]; i++)
		assert_refused("woocommerce", bad[i], true, "settings.siteUrl");
}

Test(settings, base_url_is_refused_outside_demo_projects)
{
	struct fx_value out = {0};
	struct fx_err e;

	assert_refused("takealot", "{\"baseUrl\":\"http://127.0.0.1:9000\"}", false, "settings.baseUrl");
	cr_assert_eq(settings("takealot", "{\"baseUrl\":\"http://127.0.0.1:9000/\"}", true, &out, &e), 0, "%s",
		     e.message);
	cr_assert_str_eq(fx_value_path_str(&out, "baseUrl"), "http://127.0.0.1:9000");
	fx_value_cleanup(&out);
}

Test(settings, buffer_default_is_0_to_a_million)
{
	struct fx_value out = {0};
	struct fx_err e;
	int64_t b = 0;

	assert_refused("takealot", "{\"bufferDefault\":-1}", false, "settings.bufferDefault");
	assert_refused("takealot", "{\"bufferDefault\":1000001}", false, "settings.bufferDefault");
	assert_refused("takealot", "{\"bufferDefault\":\"3\"}", false, "settings.bufferDefault");
	cr_assert_eq(settings("takealot", "{\"bufferDefault\":1000000,\"merchantWarehouseId\":77}", false, &out, &e), 0,
		     "%s", e.message);
	cr_assert(fx_value_path_int(&out, "bufferDefault", &b));
	cr_assert_eq(b, 1000000);
	cr_assert_str_eq(fx_value_path_str(&out, "merchantWarehouseId"), "77");
	fx_value_cleanup(&out);
	assert_refused("takealot", "{\"merchantWarehouseId\":\"7a\"}", false, "settings.merchantWarehouseId");
	assert_refused("takealot", "{\"merchantWarehouseId\":0}", false, "settings.merchantWarehouseId");
}

Test(settings, an_unknown_type_is_refused_naming_type)
{
	struct fx_value out = {0};
	struct fx_err e;

	cr_assert_eq(settings("amazon", "{}", false, &out, &e), -1);
	cr_assert_str_eq(e.details[0].field, "type");
	fx_value_cleanup(&out);
}

/* fx_chandoc_credentials on the JSON text. */
static int credentials(const char *type, const char *json, char **plain, char last4[FX_CHANDOC_LAST4_SIZE],
		       struct fx_err *e)
{
	json_object *in = json_tokener_parse(json);
	int rc;

	cr_assert_not_null(in, "%s", json);
	fx_err_clear(e);
	rc = fx_chandoc_credentials(type, in, plain, last4, e);
	json_object_put(in);
	return rc;
}

Test(credentials, woocommerce_shows_the_last_four_of_the_consumer_secret)
{
	char *plain = NULL, last4[FX_CHANDOC_LAST4_SIZE];
	json_object *back = NULL;
	struct fx_err e;

	cr_assert_eq(credentials("woocommerce",
				 "{\"consumerKey\":\"ck_0123456789\",\"consumerSecret\":\"cs_abcdefWXYZ\"}", &plain,
				 last4, &e),
		     0, "%s", e.message);
	cr_assert_str_eq(last4, "WXYZ");
	back = json_tokener_parse(plain);
	cr_assert_not_null(back);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(back, "consumerKey")), "ck_0123456789");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(back, "consumerSecret")), "cs_abcdefWXYZ");
	json_object_put(back);
	free(plain);
}

Test(credentials, each_type_names_its_missing_or_unknown_field)
{
	char *plain = NULL, last4[FX_CHANDOC_LAST4_SIZE];
	struct fx_err e;

	cr_assert_eq(credentials("shopify", "{}", &plain, last4, &e), -1);
	cr_assert_str_eq(e.details[0].field, "credentials.accessToken");
	cr_assert_eq(credentials("takealot", "{\"accessToken\":\"shpat_0123456789\"}", &plain, last4, &e), -1);
	cr_assert_str_eq(e.details[0].field, "credentials.accessToken");
	cr_assert_eq(credentials("woocommerce", "{\"consumerKey\":\"ck_0123456789\"}", &plain, last4, &e), -1);
	cr_assert_str_eq(e.details[0].field, "credentials.consumerSecret");
	cr_assert_null(plain);
}

Test(credentials, secrets_are_8_to_512_characters_without_control_characters)
{
	char *plain = NULL, last4[FX_CHANDOC_LAST4_SIZE];
	struct fx_err e;

	cr_assert_eq(credentials("takealot", "{\"apiKey\":\"short\"}", &plain, last4, &e), -1);
	cr_assert_str_eq(e.details[0].field, "credentials.apiKey");
	cr_assert_eq(credentials("takealot", "{\"apiKey\":\"0123456789\\r\\nX-Evil: 1\"}", &plain, last4, &e), -1);
	cr_assert_str_eq(e.details[0].field, "credentials.apiKey");
	cr_assert_null(strstr(e.message, "Evil"), "the message never holds the secret: %s", e.message);
	cr_assert_eq(credentials("takealot", "{\"apiKey\":1234567890}", &plain, last4, &e), -1);
	cr_assert_null(plain);
}

Test(last4, counts_characters_not_bytes)
{
	char out[FX_CHANDOC_LAST4_SIZE];

	/* "sleutel-ŝŭŝ€" ends with three 2-byte characters and a 3-byte one. */
	cr_assert_eq(fx_chandoc_last4("sleutel-\xc5\x9d\xc5\xad\xc5\x9d\xe2\x82\xac", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "\xc5\x9d\xc5\xad\xc5\x9d\xe2\x82\xac");
	cr_assert_eq(fx_chandoc_last4("abcdefgh\xf0\x9f\x94\x91", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "fgh\xf0\x9f\x94\x91", "a 4-byte key emoji stays whole");
	cr_assert_eq(fx_chandoc_last4("abc", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "abc");
}

Test(last4, refuses_invalid_utf8_and_a_short_buffer)
{
	char out[FX_CHANDOC_LAST4_SIZE], small[4];

	cr_assert_eq(fx_chandoc_last4("abcdefg\xc5", out, sizeof(out)), -1);
	cr_assert_str_eq(out, "");
	cr_assert_eq(fx_chandoc_last4("abcdefgh", small, sizeof(small)), -1);
}

Test(target, base_url_wins_then_each_types_own_host)
{
	struct fx_value s = {0};
	struct fx_err e;
	char out[FX_CHANDOC_URL_MAX + 1];
	bool over = true;

	fx_value_map(&s);
	fx_map_set_str(&s, "shopDomain", "a.myshopify.com");
	cr_assert_eq(fx_chandoc_target("shopify", &s, out, sizeof(out), &over, &e), 0);
	cr_assert_str_eq(out, "https://a.myshopify.com");
	cr_assert_not(over);
	cr_assert_eq(fx_chandoc_target("takealot", &s, out, sizeof(out), &over, &e), 0);
	cr_assert_str_eq(out, FX_CHANDOC_TAKEALOT_URL);
	cr_assert_eq(fx_chandoc_target("woocommerce", &s, out, sizeof(out), &over, &e), -1, "no siteUrl");
	fx_map_set_str(&s, "baseUrl", "http://127.0.0.1:8081");
	cr_assert_eq(fx_chandoc_target("shopify", &s, out, sizeof(out), &over, &e), 0);
	cr_assert_str_eq(out, "http://127.0.0.1:8081");
	cr_assert(over);
	fx_value_cleanup(&s);
}

Test(webhook_url, public_url_first_then_the_requests_host)
{
	char out[256];

	cr_assert_eq(fx_chandoc_webhook_url("https://api.fluxori.co.za/", "http", "x", "c1", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "https://api.fluxori.co.za/v1/channels/c1/webhooks");
	cr_assert_eq(fx_chandoc_webhook_url(NULL, "https", "api.example.com", "c1", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "https://api.example.com/v1/channels/c1/webhooks");
	cr_assert_eq(fx_chandoc_webhook_url(NULL, NULL, "127.0.0.1:8080", "c1", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "http://127.0.0.1:8080/v1/channels/c1/webhooks");
	cr_assert_eq(fx_chandoc_webhook_url(NULL, "https", "evil.example/x?", "c1", out, sizeof(out)), -1);
	cr_assert_eq(fx_chandoc_webhook_url(NULL, "https", NULL, "c1", out, sizeof(out)), -1);
}

Test(demo, only_demo_projects)
{
	cr_assert(fx_chandoc_demo("demo-fluxori"));
	cr_assert_not(fx_chandoc_demo("fluxori-prod"));
	cr_assert_not(fx_chandoc_demo("demofluxori"));
	cr_assert_not(fx_chandoc_demo(NULL));
}

/* A stored channel document of org o1, id c1, with credentials sealed for aad_path. */
static void stored_channel(struct fx_doc *doc, const char *type, const char *credentials, const char *aad_path,
			   const char *base_url)
{
	struct fx_value *settings, *sealed;
	struct fx_err e;
	char *s = NULL;

	memset(doc, 0, sizeof(*doc));
	doc->name = strdup("projects/p/databases/(default)/documents/organizations/o1/channels/c1");
	doc->id = strrchr(doc->name, '/') + 1;
	fx_value_map(&doc->fields);
	fx_map_set_str(&doc->fields, "type", type);
	settings = fx_map_set(&doc->fields, "settings");
	fx_value_map(settings);
	fx_map_set_str(settings, "shopDomain", "a.myshopify.com");
	fx_map_set_str(settings, "locationId", "gid://shopify/Location/7");
	if (base_url)
		fx_map_set_str(settings, "baseUrl", base_url);
	sealed = fx_map_set(&doc->fields, "sealed");
	fx_value_map(sealed);
	cr_assert_eq(fx_seal(credentials, strlen(credentials), aad_path, &s, &e), 0, "%s", e.message);
	fx_map_set_str(sealed, "credentials", s);
	free(s);
	cr_assert_eq(fx_seal("whsec_12345678", 14, aad_path, &s, &e), 0, "%s", e.message);
	fx_map_set_str(sealed, "webhookSecret", s);
	free(s);
}

static void load_demo_key(void)
{
	struct fx_err e;

	cr_assert_eq(fx_seal_keys_load("demo-test", NULL, NULL, &e), 0, "%s", e.message);
}

Test(open, unseals_credentials_and_names_the_target, .init = load_demo_key)
{
	struct fx_arena arena;
	struct fx_channel ch;
	struct fx_doc doc;
	struct fx_err e;

	fx_arena_init(&arena, 1 << 20);
	stored_channel(&doc, "shopify", "{\"accessToken\":\"shpat_abcdefgh\"}", "organizations/o1/channels/c1", NULL);
	cr_assert_eq(fx_chandoc_open(&doc, "o1", &arena, &ch, &e), 0, "%s", e.message);
	cr_assert_eq(ch.type, FX_CHANNEL_SHOPIFY);
	cr_assert_str_eq(ch.id, "c1");
	cr_assert_str_eq(ch.organization_id, "o1");
	cr_assert_str_eq(ch.base_url, "https://a.myshopify.com");
	cr_assert_not(ch.allow_private);
	cr_assert_str_eq(ch.location_id, "gid://shopify/Location/7");
	cr_assert_str_eq(ch.access_token, "shpat_abcdefgh");
	cr_assert_str_eq(ch.webhook_secret, "whsec_12345678");
	fx_chandoc_close(&ch);
	cr_assert_null(ch.access_token);
	fx_firestore_doc_cleanup(&doc);
	fx_arena_cleanup(&arena);
}

Test(open, refuses_credentials_sealed_for_another_document, .init = load_demo_key)
{
	struct fx_arena arena;
	struct fx_channel ch;
	struct fx_doc doc;
	struct fx_err e;

	fx_arena_init(&arena, 1 << 20);
	stored_channel(&doc, "shopify", "{\"accessToken\":\"shpat_abcdefgh\"}", "organizations/o2/channels/c1", NULL);
	fx_err_clear(&e);
	cr_assert_eq(fx_chandoc_open(&doc, "o1", &arena, &ch, &e), -1, "a value copied from another org opened");
	cr_assert(fx_err_is(&e, FX_INTERNAL));
	cr_assert_null(ch.access_token);
	fx_firestore_doc_cleanup(&doc);
	fx_arena_cleanup(&arena);
}

Test(open, refuses_credentials_that_lack_what_the_type_needs, .init = load_demo_key)
{
	struct fx_arena arena;
	struct fx_channel ch;
	struct fx_doc doc;
	struct fx_err e;

	fx_arena_init(&arena, 1 << 20);
	stored_channel(&doc, "woocommerce", "{\"consumerKey\":\"ck_abcdefgh\"}", "organizations/o1/channels/c1",
		       "http://127.0.0.1:9");
	cr_assert_eq(fx_chandoc_open(&doc, "o1", &arena, &ch, &e), -1);
	cr_assert_null(strstr(e.message, "ck_abcdefgh"), "%s", e.message);
	fx_firestore_doc_cleanup(&doc);
	fx_arena_cleanup(&arena);
}
