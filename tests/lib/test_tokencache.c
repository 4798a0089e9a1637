#include "tokencache.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static time_t fake_now = 1800000000;

static time_t clock_now(void)
{
	return fake_now;
}

static void setup(void)
{
	fake_now = 1800000000;
	fx_tokencache_set_clock(clock_now);
	fx_tokencache_reset();
}

static struct fx_claims claims_for(const char *uid, int64_t exp)
{
	struct fx_claims c;

	memset(&c, 0, sizeof(c));
	snprintf(c.uid, sizeof(c.uid), "%s", uid);
	c.exp = exp;
	return c;
}

TestSuite(tokencache, .init = setup);

Test(tokencache, a_verified_token_is_found_until_its_exp)
{
	struct fx_claims in = claims_for("alice", fake_now + 60), out;
	const char *tok = "header.payload.signature";

	cr_assert_not(fx_tokencache_get(FX_TOKEN_FIREBASE, tok, strlen(tok), &out));
	fx_tokencache_put(FX_TOKEN_FIREBASE, tok, strlen(tok), &in);
	cr_assert(fx_tokencache_get(FX_TOKEN_FIREBASE, tok, strlen(tok), &out));
	cr_expect_str_eq(out.uid, "alice");
	fake_now += 59;
	cr_expect(fx_tokencache_get(FX_TOKEN_FIREBASE, tok, strlen(tok), &out));
	fake_now += 1;
	cr_expect_not(fx_tokencache_get(FX_TOKEN_FIREBASE, tok, strlen(tok), &out), "gone at exp");
}

Test(tokencache, the_key_is_the_whole_token_and_its_kind)
{
	struct fx_claims in = claims_for("alice", fake_now + 60), out;
	const char *tok = "header.payload.signature";

	fx_tokencache_put(FX_TOKEN_FIREBASE, tok, strlen(tok), &in);
	cr_expect_not(fx_tokencache_get(FX_TOKEN_OIDC, tok, strlen(tok), &out), "an ID token is no OIDC token");
	cr_expect_not(fx_tokencache_get(FX_TOKEN_FIREBASE, tok, strlen(tok) - 1, &out), "a prefix is another token");
	cr_expect_not(fx_tokencache_get(FX_TOKEN_FIREBASE, "header.payload.signaturf", strlen(tok), &out));
}

Test(tokencache, forgetting_a_uid_drops_all_its_tokens)
{
	struct fx_claims a = claims_for("alice", fake_now + 600), b = claims_for("bob", fake_now + 600), out;

	fx_tokencache_put(FX_TOKEN_FIREBASE, "a1", 2, &a);
	fx_tokencache_put(FX_TOKEN_FIREBASE, "a2", 2, &a);
	fx_tokencache_put(FX_TOKEN_FIREBASE, "b1", 2, &b);
	fx_tokencache_forget_uid("alice");
	cr_expect_not(fx_tokencache_get(FX_TOKEN_FIREBASE, "a1", 2, &out));
	cr_expect_not(fx_tokencache_get(FX_TOKEN_FIREBASE, "a2", 2, &out));
	cr_expect(fx_tokencache_get(FX_TOKEN_FIREBASE, "b1", 2, &out));
}

Test(tokencache, it_is_bounded)
{
	struct fx_claims c = claims_for("u", fake_now + 600), out;
	char tok[32];
	int found = 0;

	for (int i = 0; i < 4 * FX_TOKENCACHE_SLOTS; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		fx_tokencache_put(FX_TOKEN_FIREBASE, tok, strlen(tok), &c);
	}
	for (int i = 0; i < 4 * FX_TOKENCACHE_SLOTS; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		found += fx_tokencache_get(FX_TOKEN_FIREBASE, tok, strlen(tok), &out);
	}
	cr_expect_leq(found, FX_TOKENCACHE_SLOTS);
	cr_expect_gt(found, FX_TOKENCACHE_SLOTS / 2, "most slots hold a token: %d", found);
}
