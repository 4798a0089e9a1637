/*
 * fx_firestore: Firestore REST v1 over fx_httpc.
 */
#ifndef FX_FIRESTORE_H
#define FX_FIRESTORE_H

#include "err.h"

/* Checks that Firestore answers (a read of a document that need not exist). */
int fx_firestore_ping(struct fx_err *e);

#endif
