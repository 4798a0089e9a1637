/*
 * The webhook test receiver (tests/integration/whreceiver) on its own: its
 * verification accepts exactly what a merchant following docs/webhooks.md
 * accepts -- signatures computed here by the shell command the document
 * shows (`printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac
 * "$secret"`), not by the code under test -- and refuses a tampered body,
 * an old or future t and a wrong secret; its server records deliveries and
 * fails, waits or redirects on command.
 */
#include "whreceiver.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET "whsec_3q2-7wOqlUPXq7h5gsD8SYI6xGDK8ZHD1Bk3lAqvHMY"
#define OLD_SECRET "whsec_oldoldoldoldoldoldoldoldoldoldoldoldold0"
#define BODY                                                                                        \
	"{\"id\":\"evt_01HZX3\",\"type\":\"order.created\",\"createdAt\":\"2026-12-03T00:00:00Z\"," \
	"\"organizationId\":\"org1\",\"data\":{\"id\":\"o1\",\"number\":\"FX-000001\"}}"

/* The hex HMAC as `openssl dgst` prints it for the document's command line; fails the test otherwise. */
static void openssl_v1(const char *secret, long long t, const char *body, char out[65])
{
	char cmd[2048], line[512];
	FILE *f;
	const char *eq;

	/* The values go through the environment so that the command is the document's, quoted as there. */
	cr_assert_eq(setenv("WH_SECRET", secret, 1), 0);
	cr_assert_eq(setenv("WH_BODY", body, 1), 0);
	snprintf(cmd, sizeof cmd, "%lld", t);
	cr_assert_eq(setenv("WH_T", cmd, 1), 0);
	snprintf(cmd, sizeof cmd,
		 "secret=\"$WH_SECRET\" t=\"$WH_T\" body=\"$WH_BODY\"; "
		 "printf '%%s.%%s' \"$t\" \"$body\" | openssl dgst -sha256 -hmac \"$secret\"");
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof line, f), "openssl printed nothing");
	cr_assert_eq(pclose(f), 0, "openssl dgst failed");
	/* "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.1): the hex follows "= ". */
	eq = strstr(line, "= ");
	cr_assert_not_null(eq, "openssl's line: %s", line);
	cr_assert_geq(strlen(eq + 2), 64, "openssl's line: %s", line);
	memcpy(out, eq + 2, 64);
	out[64] = '\0';
}

static bool verify(const char *header, const char *body, const char *secret, long long now, const char **why)
{
	const char *s[1] = {secret};
	return whreceiver_verify(header, body, strlen(body), s, 1, now, why);
}

Test(whreceiver, accepts_the_signature_openssl_computes_as_the_docs_show)
{
	long long t = (long long)time(NULL);
	char v1[65], header[200];
	const char *why = NULL;

	openssl_v1(SECRET, t, BODY, v1);
	snprintf(header, sizeof header, "t=%lld,v1=%s", t, v1);
	cr_assert(verify(header, BODY, SECRET, t, &why), "refused: %s", why);
}

Test(whreceiver, refuses_a_tampered_body_a_wrong_secret_and_an_upper_case_copy)
{
	long long t = (long long)time(NULL);
	char v1[65], header[200], tampered[] = BODY, upper[65];
	const char *why = NULL;

	openssl_v1(SECRET, t, BODY, v1);
	snprintf(header, sizeof header, "t=%lld,v1=%s", t, v1);
	tampered[strlen(tampered) - 4] = '2'; /* FX-000001 becomes FX-000002 */
	cr_assert_not(verify(header, tampered, SECRET, t, &why));
	cr_assert_str_eq(why, "no match");
	cr_assert_not(verify(header, BODY, OLD_SECRET, t, &why));
	cr_assert_str_eq(why, "no match");
	/* The signed t is part of the message: the same v1 under another t is not valid. */
	snprintf(header, sizeof header, "t=%lld,v1=%s", t + 1, v1);
	cr_assert_not(verify(header, BODY, SECRET, t, &why));
	cr_assert_str_eq(why, "no match");
	/* The document says lower-case hex, as openssl prints it, compared byte for byte. */
	for (int i = 0; i < 65; i++)
		upper[i] = (v1[i] >= 'a' && v1[i] <= 'f') ? (char)(v1[i] - 32) : v1[i];
	cr_assert_neq(strcmp(upper, v1), 0, "the MAC has a letter (all 64 digits 0-9: p < 1e-13)");
	snprintf(header, sizeof header, "t=%lld,v1=%s", t, upper);
	cr_assert_not(verify(header, BODY, SECRET, t, &why));
}

Test(whreceiver, refuses_a_t_more_than_five_minutes_away_either_way)
{
	long long now = (long long)time(NULL);
	long long ts[4] = {now - 300, now - 301, now + 300, now + 301};
	bool want[4] = {true, false, true, false};
	const char *rule[4] = {NULL, "too old", NULL, "too new"};

	for (int i = 0; i < 4; i++) {
		char v1[65], header[200];
		const char *why = NULL;
		openssl_v1(SECRET, ts[i], BODY, v1);
		snprintf(header, sizeof header, "t=%lld,v1=%s", ts[i], v1);
		cr_assert_eq(verify(header, BODY, SECRET, now, &why), want[i], "t = now %+lld: %s", ts[i] - now,
			     why ? why : "accepted");
		if (rule[i])
			cr_assert_str_eq(why, rule[i]);
	}
}

Test(whreceiver, during_a_rotation_either_v1_entry_may_match_the_secret_held)
{
	long long t = (long long)time(NULL);
	char vnew[65], vold[65], header[300];
	const char *why = NULL;

	openssl_v1(SECRET, t, BODY, vnew);
	openssl_v1(OLD_SECRET, t, BODY, vold);
	snprintf(header, sizeof header, "t=%lld,v1=%s,v1=%s", t, vnew, vold);
	cr_assert(verify(header, BODY, SECRET, t, &why), "the new secret's entry: %s", why);
	cr_assert(verify(header, BODY, OLD_SECRET, t, &why), "the old secret's entry: %s", why);
	cr_assert_not(verify(header, BODY, "whsec_neither", t, &why));
	/* A scheme the receiver does not know is skipped, not an error. */
	snprintf(header, sizeof header, "t=%lld,v0=deadbeef,v1=%s", t, vnew);
	cr_assert(verify(header, BODY, SECRET, t, &why), "%s", why);
}

Test(whreceiver, refuses_headers_without_a_single_numeric_t_or_any_v1)
{
	long long t = (long long)time(NULL);
	char v1[65], header[300];
	const char *why = NULL;

	openssl_v1(SECRET, t, BODY, v1);
	cr_assert_not(verify("", BODY, SECRET, t, &why));
	cr_assert_str_eq(why, "no signature");
	snprintf(header, sizeof header, "v1=%s", v1);
	cr_assert_not(verify(header, BODY, SECRET, t, &why));
	cr_assert_str_eq(why, "no timestamp");
	snprintf(header, sizeof header, "t=%lld,t=%lld,v1=%s", t, t, v1);
	cr_assert_not(verify(header, BODY, SECRET, t, &why));
	cr_assert_str_eq(why, "malformed");
	snprintf(header, sizeof header, "t=%lldx,v1=%s", t, v1);
	cr_assert_not(verify(header, BODY, SECRET, t, &why));
	cr_assert_str_eq(why, "malformed");
	snprintf(header, sizeof header, "t=%lld", t);
	cr_assert_not(verify(header, BODY, SECRET, t, &why));
	cr_assert_str_eq(why, "no v1");
	snprintf(header, sizeof header, "t=%lld,v1=%.63s", t, v1);
	cr_assert_not(verify(header, BODY, SECRET, t, &why));
	cr_assert_str_eq(why, "no match");
}

/* ---- the server ---- */

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* POSTs body to url with the three headers; the status (0 on a transport failure), Location into loc. */
static long post(const char *url, const char *id, const char *sig, const char *body, long timeout_ms, char *loc,
		 size_t loc_len)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char line[600];
	long status = 0;
	char *redirect = NULL;

	cr_assert_not_null(c);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "X-Fluxori-Event: order.created");
	snprintf(line, sizeof line, "X-Fluxori-Delivery: %s", id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof line, "X-Fluxori-Signature: %s", sig);
	h = curl_slist_append(h, line);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (loc && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect)
			snprintf(loc, loc_len, "%s", redirect);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static void signed_header(const char *secret, const char *body, char *out, size_t len)
{
	long long t = (long long)time(NULL);
	char v1[65];

	openssl_v1(secret, t, body, v1);
	snprintf(out, len, "t=%lld,v1=%s", t, v1);
}

Test(whreceiver, records_a_valid_delivery_and_answers_400_to_a_forged_one, .timeout = 30)
{
	struct whreceiver *w = whreceiver_start();
	const char *secrets[] = {SECRET};
	struct whreceiver_delivery d;
	char sig[200];

	cr_assert_not_null(w);
	whreceiver_set_secrets(w, secrets, 1);
	signed_header(SECRET, BODY, sig, sizeof sig);
	cr_assert_eq(post(whreceiver_url(w), "evt_01HZX3", sig, BODY, 10000, NULL, 0), 200);
	signed_header(OLD_SECRET, BODY, sig, sizeof sig);
	cr_assert_eq(post(whreceiver_url(w), "evt_forged", sig, BODY, 10000, NULL, 0), 400);
	cr_assert_eq(whreceiver_count(w), 2);
	cr_assert_eq(whreceiver_accepted(w), 1);
	cr_assert_eq(whreceiver_accepted_id(w, "evt_01HZX3"), 1);
	cr_assert_eq(whreceiver_accepted_id(w, "evt_forged"), 0);
	cr_assert(whreceiver_get(w, 0, &d));
	cr_assert_str_eq(d.delivery, "evt_01HZX3");
	cr_assert_str_eq(d.event, "order.created");
	cr_assert_str_eq(d.method, "POST");
	cr_assert_str_eq(d.body, BODY);
	cr_assert(d.valid);
	cr_assert_eq(d.status, 200);
	whreceiver_delivery_free(&d);
	cr_assert(whreceiver_get(w, 1, &d));
	cr_assert_not(d.valid);
	cr_assert_str_eq(d.why, "no match");
	cr_assert_eq(d.status, 400);
	whreceiver_delivery_free(&d);
	cr_assert_not(whreceiver_get(w, 2, &d));
	whreceiver_stop(w);
}

Test(whreceiver, fails_redirects_and_waits_on_command, .timeout = 60)
{
	struct whreceiver *w = whreceiver_start();
	const char *secrets[] = {SECRET};
	char sig[200], loc[300] = "";

	cr_assert_not_null(w);
	whreceiver_set_secrets(w, secrets, 1);
	signed_header(SECRET, BODY, sig, sizeof sig);

	whreceiver_fail(w, 2, 503);
	cr_assert_eq(post(whreceiver_url(w), "e1", sig, BODY, 10000, NULL, 0), 503);
	cr_assert_eq(post(whreceiver_url(w), "e1", sig, BODY, 10000, NULL, 0), 503);
	cr_assert_eq(post(whreceiver_url(w), "e1", sig, BODY, 10000, NULL, 0), 200, "two failures, then well again");
	cr_assert_eq(whreceiver_accepted_id(w, "e1"), 1, "a failed answer is not an accepted delivery");

	whreceiver_redirect(w, "http://169.254.169.254/latest/meta-data/");
	cr_assert_eq(post(whreceiver_url(w), "e2", sig, BODY, 10000, loc, sizeof loc), 302);
	cr_assert_str_eq(loc, "http://169.254.169.254/latest/meta-data/");
	whreceiver_redirect(w, NULL);

	/* A hang: the client gives up first; the receiver saw the request waiting. */
	whreceiver_delay(w, 60000);
	cr_assert_eq(post(whreceiver_url(w), "e3", sig, BODY, 1000, NULL, 0), 0, "no answer within the client's bound");
	cr_assert(whreceiver_wait_delayed(w, 1, 10000), "the request waits in the receiver");
	cr_assert_eq(whreceiver_count(w), 5, "e1 three times, e2, e3");
	whreceiver_delay(w, 0);
	cr_assert_eq(post(whreceiver_url(w), "e4", sig, BODY, 10000, NULL, 0), 200);
	cr_assert_eq(whreceiver_accepted(w), 2, "e1 and e4: e3's sender had left before an answer");
	whreceiver_stop(w);
}

/* docs/webhooks.md's worked example, digits as openssl printed them when the page was written. */
#define DOC_T 1796285704LL
#define DOC_T_STR "1796285704"
#define DOC_BODY                                                                                                 \
	"{\"id\":\"evt_01JEXAMPLE7KQ2\",\"type\":\"order.created\",\"createdAt\":\"2026-12-03T08:15:02.418Z\","  \
	"\"organizationId\":\"acme-traders\",\"data\":{\"id\":\"ord_5Hq2\",\"number\":\"FX-000042\",\"status\":" \
	"\"pending\",\"totalCents\":29997,\"currency\":\"ZAR\"}}"
#define DOC_NEW "whsec_3q2-7wOqlUPXq7h5gsD8SYI6xGDK8ZHD1Bk3lAqvHMY"
#define DOC_OLD "whsec_Jm1cR3WvQ0bX8yLs5Ta2Ke7Hn4Pd9Gu6Zf0Vi3Oq1Sx"
#define DOC_V1_NEW "814c7228cf57bba6494039d450ac7498acff00bbac297830179f01e37c43762e"
#define DOC_V1_OLD "6526008acfac1592b8da1a8231b385094bf8e5ec97bf784ee4bcc15ec02b3f77"

Test(whreceiver, the_worked_example_of_the_docs_holds)
{
	char v1[65];
	const char *why = NULL;

	cr_assert_eq(strlen(DOC_T_STR "." DOC_BODY), 233, "the page says the signed message is 233 bytes");
	openssl_v1(DOC_NEW, DOC_T, DOC_BODY, v1);
	cr_assert_str_eq(v1, DOC_V1_NEW, "the page's digest is what openssl computes");
	openssl_v1(DOC_OLD, DOC_T, DOC_BODY, v1);
	cr_assert_str_eq(v1, DOC_V1_OLD, "the page's rotation digest is what openssl computes");
	cr_assert(verify("t=1796285704,v1=" DOC_V1_NEW, DOC_BODY, DOC_NEW, DOC_T + 10, &why), "%s", why);
	cr_assert(verify("t=1796285704,v1=" DOC_V1_NEW ",v1=" DOC_V1_OLD, DOC_BODY, DOC_OLD, DOC_T, &why), "%s", why);
	cr_assert_not(verify("t=1796285704,v1=" DOC_V1_NEW, DOC_BODY, DOC_NEW, DOC_T + 301, &why),
		      "the example is too old five minutes and a second later");
}
