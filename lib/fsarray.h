/*
 * fx_array: positional edits of an FX_V_ARRAY fx_value (lib/fsvalue.h has
 * push and copy). Kept apart from lib/fsvalue.c while that file is split;
 * its home is the array part of the split.
 * Ownership: the array owns its items; a removed item is cleaned up.
 */
#ifndef FX_FSARRAY_H
#define FX_FSARRAY_H

#include "err.h"
#include "fsvalue.h"

#include <stddef.h>

/*
 * Inserts an FX_V_NULL item at index at (0 ≤ at ≤ n) of the FX_V_ARRAY arr,
 * moving the items from at on one place up, and returns it to fill (valid
 * until the array changes again). NULL, arr unchanged, when arr is not an
 * array or at is beyond its end.
 */
FX_MUST_USE struct fx_value *fx_array_insert(struct fx_value *arr, size_t at);

/*
 * Cleans up the item at index at of the FX_V_ARRAY arr and moves the later
 * items one place down. -1, arr unchanged, when arr is not an array or has
 * no item at; 0 otherwise.
 */
FX_MUST_USE int fx_array_remove(struct fx_value *arr, size_t at);

#endif
