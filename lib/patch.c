#include "patch.h"

#include "fswrite.h"
#include "mem.h"
#include "str.h"

#include <stdlib.h>
#include <string.h>

int fx_patch_if_match(const char *if_match, const struct fx_doc *doc, const char *what, struct fx_err *e)
{
	if (if_match && strcmp(if_match, doc->update_time) != 0)
		return fx_err_set(e, FX_CONDITION_NOT_MET, "the %s changed since that etag", what);
	return 0;
}

/* Commits writes; times (NULL, or one per write) receives their updateTimes. */
static int commit(json_object *writes, enum fx_patch_guard guard, const char *what, char (*times)[40], struct fx_err *e)
{
	if (fx_firestore_commit(writes, NULL, NULL, times, e) == 0)
		return 0;
	if (!fx_err_is(e, FX_FAILED_PRECONDITION))
		return -1;
	if (guard == FX_PATCH_IF_MATCH)
		return fx_err_set(e, FX_CONDITION_NOT_MET, "the %s changed since that etag", what);
	return fx_err_set(e, FX_ABORTED, "the %s changed while it was being updated: retry", what);
}

int fx_patch_commit(json_object *writes, enum fx_patch_guard guard, const char *what, struct fx_err *e)
{
	return commit(writes, guard, what, NULL, e);
}

int fx_patch_commit_at(json_object *writes, enum fx_patch_guard guard, const char *what, size_t at,
		       char update_time[40], struct fx_err *e)
{
	size_t n = json_object_array_length(writes);
	char(*times)[40];
	int rc;

	if (at >= n)
		return fx_err_set(e, FX_INTERNAL, "no write %zu of %zu to answer", at, n);
	times = fx_mem_xcalloc(n, sizeof(*times));
	rc = commit(writes, guard, what, times, e);
	if (rc == 0 && fx_str_set(update_time, 40, times[at]) < 0)
		rc = fx_err_set(e, FX_INTERNAL, "an updateTime over 39 bytes");
	free(times);
	return rc;
}

int fx_patch_write(const char *path, const struct fx_value *map, const char *const *mask, const char *version,
		   enum fx_patch_guard guard, const char *what, struct fx_err *e)
{
	json_object *writes = json_object_new_array();
	char *name = fx_firestore_name(path);
	int rc = fx_fswrite_update(writes, name, map, mask, version, NULL, e);

	if (rc == 0)
		rc = fx_patch_commit(writes, guard, what, e);
	json_object_put(writes);
	free(name);
	return rc;
}
