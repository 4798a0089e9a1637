/*
 * lib/webhook: the pure rules of outbound webhooks. The signature vectors
 * were computed with OpenSSL's command line:
 *   printf '%s.%s' 1700000000 '{"id":"e1","type":"order.created"}' | openssl dgst -sha256 -hmac whsec_new -r
 * (and -hmac whsec_old for the previous secret).
 */
#include "webhook.h"

#include "config.h"
#include "map.h"
#include "value.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define BODY "{\"id\":\"e1\",\"type\":\"order.created\"}"
#define MAC_NEW "1dc499c95c71ae6a41118316314915d6f1a81d0d5d41fb704d577ca696fbd636"
#define MAC_OLD "0cd4b97b916d9df3b9e859dc26da0646f67e4ab42f9b23d07dfb0bd9fff708d4"

Test(webhook, the_signature_header_is_t_then_one_v1_per_secret_as_openssl_computes_it)
{
	const char *one[] = {"whsec_new"}, *two[] = {"whsec_new", "whsec_old"};
	char out[FX_WEBHOOK_SIG_MAX];

	cr_assert_eq(fx_webhook_signature(1700000000, BODY, strlen(BODY), one, 1, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "t=1700000000,v1=" MAC_NEW);
	cr_assert_eq(fx_webhook_signature(1700000000, BODY, strlen(BODY), two, 2, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "t=1700000000,v1=" MAC_NEW ",v1=" MAC_OLD);
}

Test(webhook, a_signature_that_does_not_fit_is_refused_and_leaves_nothing)
{
	const char *two[] = {"whsec_new", "whsec_old"};
	char out[100];

	cr_assert_eq(fx_webhook_signature(1700000000, BODY, strlen(BODY), two, 2, out, sizeof(out)), -1);
	cr_assert_str_eq(out, "");
	cr_assert_eq(fx_webhook_signature(1700000000, BODY, strlen(BODY), two, 0, out, sizeof(out)), -1);
	cr_assert_eq(fx_webhook_signature(1700000000, BODY, strlen(BODY), two, 3, out, sizeof(out)), -1);
}

Test(webhook, the_backoff_doubles_from_the_base_and_stops_at_the_cap)
{
	static const int64_t want[] = {60, 120, 240, 480, 960, 1920, 3600, 3600};

	for (int64_t a = 1; a <= 8; a++)
		cr_assert_eq(fx_webhook_backoff_s(a, 60, 3600), want[a - 1], "attempt %lld", (long long)a);
	cr_assert_eq(fx_webhook_backoff_s(1000000, 60, 3600), 3600, "a huge attempt count saturates");
	cr_assert_eq(fx_webhook_backoff_s(5, 0, 3600), 0, "a base of 0 (tests) retries at once");
	cr_assert_eq(fx_webhook_backoff_s(70, INT64_MAX / 2 + 1, INT64_MAX), INT64_MAX, "no overflow");
}

Test(webhook, giving_up_and_disabling_start_exactly_at_their_windows)
{
	cr_assert_not(fx_webhook_gives_up(1000, 1000 + 86399, 86400));
	cr_assert(fx_webhook_gives_up(1000, 1000 + 86400, 86400));
	cr_assert_not(fx_webhook_disables(0, 1000000000, 259200), "a subscription not failing is never disabled");
	cr_assert_not(fx_webhook_disables(1000, 1000 + 259199, 259200));
	cr_assert(fx_webhook_disables(1000, 1000 + 259200, 259200));
}

Test(webhook, the_sequence_is_the_version_read_in_nanoseconds_and_a_creation_comes_first)
{
	int64_t a = fx_webhook_seq("2026-12-03T00:20:40.1Z"), b = fx_webhook_seq("2026-12-03T00:20:40Z"),
		c = fx_webhook_seq("2026-12-03T00:20:40.000001234Z");

	cr_assert_eq(fx_webhook_seq(NULL), 0);
	cr_assert_eq(fx_webhook_seq(""), 0);
	cr_assert_eq(fx_webhook_seq("not a time"), -1);
	/* text would order "40.1Z" before "40Z": the number does not */
	cr_assert_gt(a, b);
	cr_assert_eq(c - b, 1234);
	cr_assert_lt(fx_webhook_order_cmp(0, 0, b, 0), 0, "the creation comes before any change");
	cr_assert_lt(fx_webhook_order_cmp(b, 0, b, 1), 0, "stock_changed before low_stock of one commit");
	cr_assert_gt(fx_webhook_order_cmp(a, 0, b, 1), 0);
	cr_assert_eq(fx_webhook_order_cmp(a, 1, a, 1), 0);
}

Test(webhook, the_body_has_the_contracts_fields_in_order)
{
	json_object *data = json_object_new_object();
	char *body;

	json_object_object_add(data, "number", json_object_new_string("FX-000001"));
	body = fx_webhook_body("ev1", "order.created", "2026-12-03T00:20:40.123Z", "org1", data);
	cr_assert_str_eq(body, "{\"id\":\"ev1\",\"type\":\"order.created\",\"createdAt\":\"2026-12-03T00:20:40.123Z\","
			       "\"organizationId\":\"org1\",\"data\":{\"number\":\"FX-000001\"}}");
	free(body);
	cr_assert_null(fx_webhook_body(NULL, "order.created", "x", "org1", data));
	json_object_put(data);
}

static int check(const char *json, struct fx_err *e)
{
	json_object *v = json_tokener_parse(json);
	int rc;

	fx_err_clear(e);
	rc = fx_webhook_events_check(v, "events", e);

	json_object_put(v);
	return rc;
}

Test(webhook, events_must_be_known_non_empty_and_without_repeats)
{
	struct fx_err e;

	cr_assert_eq(check("[\"order.created\",\"channel.error\",\"import.finished\"]", &e), 0);
	cr_assert_eq(check("[]", &e), -1);
	cr_assert_eq(check("\"order.created\"", &e), -1);
	cr_assert_eq(check("[\"order.created\",\"order.created\"]", &e), -1);
	cr_assert(strstr(e.details[0].field, "events[1]"), "%s", e.details[0].field);
	cr_assert_eq(check("[\"order.deleted\"]", &e), -1);
	cr_assert_eq(check("[1]", &e), -1);
	cr_assert(fx_err_is(&e, FX_INVALID_ARGUMENT));
}

Test(webhook, only_loopback_literals_are_the_demo_exception)
{
	cr_assert(fx_webhook_url_loopback_literal("http://127.0.0.1:8080/hooks"));
	cr_assert(fx_webhook_url_loopback_literal("https://127.1.2.3/"));
	cr_assert(fx_webhook_url_loopback_literal("http://[::1]:9/x"));
	cr_assert_not(fx_webhook_url_loopback_literal("http://localhost:8080/"), "a name resolves: not a literal");
	cr_assert_not(fx_webhook_url_loopback_literal("http://10.0.0.1/"));
	cr_assert(fx_webhook_url_loopback_literal("http://0177.0.0.1/"), "curl reads it as 127.0.0.1, as it connects");
	cr_assert_not(fx_webhook_url_loopback_literal("http://127.0.0.1.nip.io/"), "a name, however it looks");
	cr_assert_not(fx_webhook_url_loopback_literal("ftp://127.0.0.1/"));
	cr_assert_not(fx_webhook_url_loopback_literal("not a url"));
}

Test(webhook, a_new_secret_is_whsec_and_43_base64url_characters_never_twice)
{
	char a[FX_WEBHOOK_SECRET_LEN + 1], b[FX_WEBHOOK_SECRET_LEN + 1];
	struct fx_err e;

	cr_assert_eq(fx_webhook_secret_new(a, &e), 0);
	cr_assert_eq(fx_webhook_secret_new(b, &e), 0);
	cr_assert_eq(strlen(a), FX_WEBHOOK_SECRET_LEN);
	cr_assert_eq(strncmp(a, "whsec_", 6), 0);
	cr_assert_eq(strspn(a + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	cr_assert_str_neq(a, b);
}

Test(webhook, the_windows_come_from_the_environment_or_the_contract)
{
	struct fx_webhook_windows w;

	unsetenv("FLUXORI_WEBHOOK_DISABLE_S");
	setenv("FLUXORI_WEBHOOK_BACKOFF_BASE_S", "1", 1);
	setenv("FLUXORI_WEBHOOK_GIVE_UP_S", "nonsense", 1);
	fx_webhook_windows(&w);
	cr_assert_eq(w.backoff_base_s, 1);
	cr_assert_eq(w.backoff_max_s, 3600);
	cr_assert_eq(w.give_up_s, 86400, "an invalid value keeps the default");
	cr_assert_eq(w.disable_s, 3 * 86400);
	cr_assert_eq(w.rotation_s, 86400);
}

/* The stringValue at fields.<a>.mapValue.fields.<b> of a Firestore write's document, or NULL. */
static const char *payload_str(json_object *write, const char *name)
{
	json_object *v = json_object_object_get(write, "update");

	v = json_object_object_get(json_object_object_get(v, "fields"), "payload");
	v = json_object_object_get(json_object_object_get(v, "mapValue"), "fields");
	v = json_object_object_get(json_object_object_get(v, name), "stringValue");
	return v ? json_object_get_string(v) : NULL;
}

Test(webhook, import_finished_appends_one_outbox_event_carrying_the_record_and_its_id)
{
	json_object *writes = json_object_new_array(), *w, *kind;
	struct fx_config cfg = {.project = "demo-test", .database = "(default)"};
	struct fx_value rec = {0};
	struct fx_err e;

	fx_config_set(&cfg);
	fx_value_map(&rec);
	fx_map_set_str(&rec, "status", "partial");
	fx_err_clear(&e);
	cr_assert_eq(fx_webhook_import_finished(writes, "org1", "imp1", NULL, &rec, &e), 0, "%s", e.message);
	cr_assert_eq(json_object_array_length(writes), 1);
	w = json_object_array_get_idx(writes, 0);
	cr_assert_str_eq(payload_str(w, "type"), "import.finished");
	cr_assert_str_eq(payload_str(w, "resourceType"), "import");
	kind = json_object_object_get(json_object_object_get(json_object_object_get(w, "update"), "fields"), "kind");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(kind, "stringValue")), "event");
	cr_assert(strstr(json_object_to_json_string(w), "\"partial\""), "%s", json_object_to_json_string(w));
	cr_assert(strstr(json_object_to_json_string(w), "\"imp1\""), "%s", json_object_to_json_string(w));
	/* a bad id leaves writes unchanged */
	cr_assert_eq(fx_webhook_import_finished(writes, "org1", "imp/1", NULL, &rec, &e), -1);
	cr_assert_eq(json_object_array_length(writes), 1);
	fx_value_cleanup(&rec);
	json_object_put(writes);
	fx_config_set(NULL);
}
