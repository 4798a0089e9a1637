#include "map.h"

#include <string.h>

struct fx_value *fx_map_set(struct fx_value *map, const char *name)
{
	for (size_t i = 0; i < map->u.map.n; i++) {
		if (strcmp(map->u.map.fields[i].name, name) == 0) {
			fx_value_cleanup(&map->u.map.fields[i].value);
			return &map->u.map.fields[i].value;
		}
	}
	return fx_value_add_field(map, name, strlen(name));
}

void fx_map_set_str(struct fx_value *map, const char *name, const char *s)
{
	fx_value_string(fx_map_set(map, name), s, strlen(s));
}

void fx_map_set_int(struct fx_value *map, const char *name, int64_t i)
{
	fx_value_int(fx_map_set(map, name), i);
}

void fx_map_set_bool(struct fx_value *map, const char *name, bool b)
{
	fx_value_bool(fx_map_set(map, name), b);
}

void fx_map_set_ts(struct fx_value *map, const char *name, int64_t secs, int32_t nanos)
{
	fx_value_ts(fx_map_set(map, name), secs, nanos);
}

const struct fx_value *fx_map_get(const struct fx_value *map, const char *name)
{
	return fx_value_field(map, name, strlen(name));
}
