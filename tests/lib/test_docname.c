/* lib/docname: document resource names. */
#include "docname.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct fx_err err;

Test(docname, document_names_are_checked)
{
	fx_err_clear(&err);
	cr_assert_eq(fx_docname_check("projects/p/databases/(default)/documents/c/d", &err), 0);
	cr_assert_eq(fx_docname_check("projects/p/databases/(default)/documents/c/d/sub/e", &err), 0);
	cr_assert_eq(fx_docname_check("projects/p/databases/(default)/documents/c", &err), -1);
	cr_assert_eq(fx_docname_check("projects/p/databases/(default)/documents", &err), -1);
	cr_assert_eq(fx_docname_check("projects//databases/(default)/documents/c/d", &err), -1);
	cr_assert_eq(fx_docname_check("c/d", &err), -1);
}

Test(docname, dot_segments_and_names_past_the_cap_are_refused_on_the_name_field)
{
	static char big[FX_DOCNAME_MAX + 2];
	size_t n = 0;

	fx_err_clear(&err);
	cr_assert_eq(fx_docname_check("projects/p/databases/d/documents/c/..", &err), -1);
	cr_assert_eq(fx_err_http(err.kind), 400);
	cr_assert_str_eq(err.details[0].field, "name");
	cr_assert_eq(fx_docname_check("projects/p/databases/d/documents/./d", &err), -1);
	cr_assert_eq(fx_docname_check("projects/p/databases/d/documents/c/d/", &err), -1, "a trailing slash");
	cr_assert_eq(fx_docname_check("projects/p/databases/d/documents/c/d/e", &err), -1, "a collection, no id");
	n = (size_t)snprintf(big, sizeof(big), "projects/p/databases/d/documents/c/");
	while (n < FX_DOCNAME_MAX)
		big[n++] = 'x';
	big[n] = '\0';
	cr_assert_eq(fx_docname_check(big, &err), 0, "exactly %d bytes", FX_DOCNAME_MAX);
	big[n++] = 'x';
	big[n] = '\0';
	cr_assert_eq(fx_docname_check(big, &err), -1);
	cr_assert(strstr(err.message, "too long"), "%s", err.message);
}
