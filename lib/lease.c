#include "lease.h"

#include "firestore.h"
#include "fswrite.h"
#include "map.h"
#include "model.h"
#include "str.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lease_ctx {
	struct fx_lease *l;
	bool release;
};

static int lease_txn(struct fx_txn *t, void *arg, struct fx_err *e)
{
	struct lease_ctx *c = arg;
	struct fx_lease *l = c->l;
	const char *paths[1] = {l->rel};
	struct fx_doc doc = {0};
	struct fx_value lease = {0};
	int64_t until = 0, now = (int64_t)time(NULL);
	const char *holder;
	char *name = fx_firestore_name(l->rel);
	int rc = -1;

	l->busy = false;
	l->busy_until = 0;
	l->busy_holder[0] = '\0';
	if (fx_firestore_batch_get(paths, 1, t->id, &doc, e) < 0)
		goto out;
	holder = doc.name ? fx_value_path_str(&doc.fields, "runId") : NULL;
	if (doc.name)
		fx_value_path_int(&doc.fields, "expiresAt", &until);
	if (c->release) {
		rc = holder && strcmp(holder, l->holder) == 0 ? fx_fswrite_delete(t->writes, name, -1, NULL, e) : 0;
		goto out;
	}
	if (doc.name && until > now) {
		l->busy = true;
		l->busy_until = until;
		if (holder && fx_str_copy(l->busy_holder, sizeof(l->busy_holder), holder, strlen(holder)) < 0)
			l->busy_holder[0] = '\0';
		rc = 0;
		goto out;
	}
	fx_value_map(&lease);
	fx_map_set_str(&lease, "runId", l->holder);
	fx_map_set_int(&lease, "expiresAt", now + l->seconds);
	fx_model_map_set_now(&lease, "takenAt");
	rc = fx_fswrite_set(t->writes, name, &lease, NULL, e);
out:
	fx_firestore_doc_cleanup(&doc);
	fx_value_cleanup(&lease);
	free(name);
	return rc;
}

int fx_lease_take(struct fx_lease *l, struct fx_err *e)
{
	struct lease_ctx c = {l, false};

	return fx_firestore_run_transaction(lease_txn, &c, e);
}

int fx_lease_release(struct fx_lease *l, struct fx_err *e)
{
	struct lease_ctx c = {l, true};

	return fx_firestore_run_transaction(lease_txn, &c, e);
}
