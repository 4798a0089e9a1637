#include "testjwt.h"

#include <criterion/criterion.h>
#include <string.h>

char *tj_mint(jwt_alg_t alg, const char *key, const char *kid, const char *claims)
{
	jwt_t *jwt = NULL;
	char *token;

	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0,
		     "libjwt refuses alg %s with this key", jwt_alg_str(alg));
	cr_assert_eq(jwt_add_header(jwt, "typ", "JWT"), 0);
	if (kid)
		cr_assert_eq(jwt_add_header(jwt, "kid", kid), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, claims), 0, "libjwt refuses the claims %s", claims);
	token = jwt_encode_str(jwt);
	cr_assert(token, "libjwt cannot encode the token");
	jwt_free(jwt);
	return token;
}
