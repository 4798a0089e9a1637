#include "authz.h"

#include "http.h"

#include <string.h>

static const char *const role_names[] = {"none", "viewer", "staff", "manager", "admin", "owner", NULL};

const char *fx_role_name(enum fx_role role)
{
	return role_names[role];
}

int fx_role_parse(const char *s)
{
	for (int i = FX_ROLE_VIEWER; role_names[i]; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

int fx_authz_request(struct fx_req *r, struct fx_err *e)
{
	(void)r;
	return fx_err_set(e, 401, "UNAUTHENTICATED", "authentication required");
}
