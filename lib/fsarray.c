#include "fsarray.h"

#include "str.h"

struct fx_value *fx_array_insert(struct fx_value *arr, size_t at)
{
	struct fx_value *items;
	size_t n;

	if (!arr || arr->type != FX_V_ARRAY || at > arr->u.arr.n)
		return NULL;
	n = arr->u.arr.n;
	fx_array_push(arr); /* grows the array; its new last slot is moved over below */
	items = arr->u.arr.items;
	/* Cannot fail: n - at items fit from at + 1 in an array of n + 1. */
	if (fx_mem_move(&items[at + 1], (arr->u.arr.cap - at - 1) * sizeof(*items), &items[at],
			(n - at) * sizeof(*items)) < 0)
		return NULL;
	fx_value_null(&items[at]);
	return &items[at];
}

int fx_array_remove(struct fx_value *arr, size_t at)
{
	struct fx_value *items;

	if (!arr || arr->type != FX_V_ARRAY || at >= arr->u.arr.n)
		return -1;
	items = arr->u.arr.items;
	fx_value_cleanup(&items[at]);
	if (fx_mem_move(&items[at], (arr->u.arr.cap - at) * sizeof(*items), &items[at + 1],
			(arr->u.arr.n - at - 1) * sizeof(*items)) < 0)
		return -1;
	arr->u.arr.n--;
	return 0;
}
