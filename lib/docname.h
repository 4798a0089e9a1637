/*
 * fx_docname: the shape of a Firestore document resource name, which
 * reference values and writes carry. Nothing here allocates; names are
 * borrowed.
 */
#ifndef FX_DOCNAME_H
#define FX_DOCNAME_H

#include "err.h"

#define FX_DOCNAME_MAX 6144 /* bytes of a document name (Firestore's limit) */

/*
 * Checks a document resource name:
 * projects/{p}/databases/{d}/documents/{coll}/{id}[/{coll}/{id}...], no
 * empty, "." or ".." segments, at most FX_DOCNAME_MAX bytes. Returns 0, or
 * -1 with a 400 INVALID_ARGUMENT on the field "name".
 */
FX_MUST_USE int fx_docname_check(const char *name, struct fx_err *e);

#endif
