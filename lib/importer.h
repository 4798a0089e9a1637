/*
 * fx_importer: CSV imports of products and stock (POST /v1/imports). Reads
 * a file the caller's organization uploaded (kind upload, text/csv, ready)
 * from Cloud Storage, checks the whole CSV first (lib/csvin: encoding,
 * quoting, the header's columns, at most FX_IMPORT_MAX_ROWS rows: any
 * refusal is a 400 with nothing written), then records the import at
 * organizations/{org}/imports/{id} (status running) and applies the rows
 * in groups:
 *
 * - SKU lookups are batched (one batchGet of the groups' SKU index
 *   documents, one of their products), writes go in commits of at most
 *   FX_FS_MAX_WRITES, and each row's writes sit whole in one commit, so a
 *   crash leaves every row applied or not.
 * - Updates carry the updateTime of the version read: a concurrent PATCH,
 *   stock:adjust or order fails the commit, and the group is read and
 *   planned again (bounded; then row by row; a row that still cannot
 *   commit is refused, "changed while importing").
 * - Product rows decode through lib/productdoc (the rules of POST/PATCH
 *   /v1/products); stock rows through fx_stock_adjust (the rules,
 *   movements and outbox entries of stock:adjust; a set is a
 *   count_correction of onHand - current). A row whose effect is nil
 *   writes nothing and counts as unchanged.
 * - A delta stock row is applied once per file content: its commit
 *   creates organizations/{org}/importRows/{sha256(file sha256 ":" row)},
 *   and a row whose record exists is unchanged. Running the same file
 *   again (after a crash, or by mistake) changes nothing more.
 * - Every refused row is a line of an errors CSV (row, sku, field,
 *   reason; row numbers as a spreadsheet shows them, header = 1) stored as
 *   a report file, errorsFileId on the record.
 * - counts are written after every group, so GET shows them grow; the
 *   record ends succeeded (no row refused), failed (every row refused) or
 *   partial. dryRun plans everything against the current data and writes
 *   only the record and its errors file.
 *
 * Arguments are borrowed; the record document returned belongs to the caller.
 */
#ifndef FX_IMPORTER_H
#define FX_IMPORTER_H

#include "err.h"
#include "firestore.h"

#include <stdbool.h>
#include <stdint.h>

struct fx_req;

#define FX_IMPORT_MAX_ROWS 10000 /* data rows of one file */

/* Fields of an import record never shown (NULL-terminated). */
extern const char *const fx_import_hidden[];

/* What POST /v1/imports asked for. */
struct fx_import_req {
	const char *file_id;
	const char *kind; /* "products" or "stock" */
	const char *mode; /* "upsert" or "create"; NULL: upsert */
	bool dry_run;
};

/*
 * Runs the import q for r's organization inside the request; *record
 * (zeroed by the caller, released with fx_firestore_doc_cleanup whatever
 * the result) receives the finished import record. Fails before writing
 * anything with 404 naming the file (not the organization's), 400 naming
 * fileId (not a ready text/csv upload, too large), kind or mode, 400
 * naming file for what the CSV reader refuses and for the header (unknown
 * or repeated column, required one missing) and more than
 * FX_IMPORT_MAX_ROWS rows; once running, only as Firestore and Cloud
 * Storage fail (the record then stays running: running the same file
 * again completes it), and with 409 ABORTED when its record was ended by
 * someone else meanwhile (fx_import_fail_stale: the record keeps that end).
 */
FX_MUST_USE int fx_import_run(struct fx_req *r, const struct fx_import_req *q, struct fx_doc *record, struct fx_err *e);

/*
 * Imports stopped without finishing (the cleanup job, handlers/jobs.c): an
 * import's worker writes the record's counts and updatedAt after every
 * group of rows, so a record still running whose updatedAt is older than
 * stale_s seconds before now has a worker that died (kill -9, a crash, a
 * redeploy). Each one of r's organization found (up to
 * FX_IMPORT_STALE_BATCH per query, FX_IMPORT_STALE_PASSES queries) ends
 * failed, finishedAt now, with an errors CSV (errorsFileId) whose one line
 * says why and that posting the same file again completes the import, and
 * for a real import (not a dry run) import.finished in the same commit.
 * The commit carries the updateTime read as precondition: an importer that
 * wrote progress meanwhile keeps its record running (skipped, its errors
 * file removed again), whatever the clocks say. A commit failing otherwise
 * (a reset, a timeout) is checked against the record: applied, it counts;
 * not applied, the errors file is removed again (it stays, logged, only when
 * the record cannot be read). *failed counts the records ended. -1 with e set when Firestore or Cloud Storage fail (the records
 * ended so far stay ended).
 */
#define FX_IMPORT_STALE_BATCH 50
#define FX_IMPORT_STALE_PASSES 10
FX_MUST_USE int fx_import_fail_stale(struct fx_req *r, int64_t now, int64_t stale_s, int64_t *failed, struct fx_err *e);

#endif
