#include "docname.h"

#include <string.h>

int fx_docname_check(const char *name, struct fx_err *e)
{
	static const char *const fixed[] = {"projects", NULL, "databases", NULL, "documents"};
	const char *p = name;
	size_t nseg = 0;

	if (strlen(name) > FX_DOCNAME_MAX)
		return fx_err_invalid(e, "name", "document name too long");
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return fx_err_invalid(e, "name", "document name \"%.80s\" has an empty or dot segment", name);
		if (nseg < 5 && fixed[nseg] && (strlen(fixed[nseg]) != n || strncmp(p, fixed[nseg], n) != 0))
			return fx_err_invalid(
				e, "name", "document name \"%.80s\" is not projects/P/databases/D/documents/...", name);
		nseg++;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (nseg < 7 || (nseg - 5) % 2 != 0)
		return fx_err_invalid(e, "name", "\"%.80s\" is not a document name", name);
	return 0;
}
