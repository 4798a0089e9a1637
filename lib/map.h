/*
 * fx_map: setting and getting the fields of an FX_V_MAP value by name, the
 * way documents are built and read (fx_value_path reads dotted paths).
 * Ownership: the map owns what is set in it (strings are copied); a set
 * replaces, and cleans up, a field of the same name in place, keeping the
 * order of the fields; returned pointers stay valid until the map changes.
 */
#ifndef FX_MAP_H
#define FX_MAP_H

#include "value.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Returns the slot for name in map (which must be FX_V_MAP), holding
 * FX_V_NULL for the caller to fill: an existing field's value cleaned up,
 * or a new field appended.
 */
struct fx_value *fx_map_set(struct fx_value *map, const char *name);

/* fx_map_set filled with a copy of the C string s, an integer, a boolean or a timestamp. */
void fx_map_set_str(struct fx_value *map, const char *name, const char *s);
void fx_map_set_int(struct fx_value *map, const char *name, int64_t i);
void fx_map_set_bool(struct fx_value *map, const char *name, bool b);
void fx_map_set_ts(struct fx_value *map, const char *name, int64_t secs, int32_t nanos);

/* The value under name in a map, or NULL (also when map is not a map). */
const struct fx_value *fx_map_get(const struct fx_value *map, const char *name);

#endif
