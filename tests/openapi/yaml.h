/*
 * yaml: a reader of the block-style subset of YAML 1.2 that
 * docs/openapi.yaml is written in, for tests/openapi/check (a fresh Debian
 * machine has no YAML parser for C, and its python3 has none either).
 *
 * Read: block mappings and sequences by indentation (spaces), compact
 * sequences ("key:" then "- item" at the key's column), plain scalars over
 * several lines, single- and double-quoted scalars over several lines,
 * literal (|) and folded (>) block scalars with - or + chomping, flow
 * sequences and mappings on one line ([a, 'b'], {}), comments.
 *
 * Refused, naming the line, rather than read some other way than a YAML
 * parser would: tabs in indentation, carriage returns, directives and
 * document markers, anchors, aliases, tags, complex keys, flow collections
 * over several lines, block scalars with an indentation indicator, plain
 * scalars holding ": " (an implicit key), duplicate keys, and indentation
 * that fits no open node.
 *
 * Ownership: the result is a new json-c value the caller puts.
 */
#ifndef OA_YAML_H
#define OA_YAML_H

#include <json-c/json.h>
#include <stddef.h>

/*
 * Parses text[0..len), one document whose top node is a mapping. Returns
 * it as json-c values: mappings are objects (keys in document order),
 * sequences arrays, every scalar a string (no type resolution: `200`,
 * `'200'` and `true` are strings), and an empty value, `null` or `~` a
 * JSON null member. Returns NULL with "line N: what" in err (errlen bytes)
 * on anything outside the subset.
 */
json_object *oa_yaml_parse(const char *text, size_t len, char *err, size_t errlen);

#endif
