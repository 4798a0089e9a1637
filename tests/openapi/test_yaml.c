/* tests/openapi/yaml.c: what it reads, as a YAML parser would, and what it refuses. */
#include "yaml.h"

#include <criterion/criterion.h>
#include <string.h>

static char err[512];

/* The text parsed and printed as compact JSON (freed by the next call), or NULL with err set. */
static const char *read_json(const char *text)
{
	static char *last;
	json_object *o = oa_yaml_parse(text, strlen(text), err, sizeof(err));

	free(last);
	last = NULL;
	if (!o)
		return NULL;
	last = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return last;
}

static void assert_reads(const char *text, const char *json)
{
	const char *got = read_json(text);

	cr_assert_not_null(got, "refused: %s", err);
	cr_assert_str_eq(got, json);
}

static void assert_refuses(const char *text, const char *line, const char *why)
{
	cr_assert_null(read_json(text), "read %s", text);
	cr_assert(strncmp(err, line, strlen(line)) == 0, "error %s does not start with %s", err, line);
	cr_assert(strstr(err, why), "error %s does not say %s", err, why);
}

Test(yaml, reads_nested_mappings_in_document_order)
{
	assert_reads("# the contract\nb: 1\na:\n  y: two words\n  x: '200'\n",
		     "{\"b\":\"1\",\"a\":{\"y\":\"two words\",\"x\":\"200\"}}");
}

Test(yaml, reads_compact_and_indented_sequences_of_mappings)
{
	assert_reads("parameters:\n- $ref: '#/p'\n- name: id\n  in: path\nget:\n  tags:\n    - a\n    - - b\n",
		     "{\"parameters\":[{\"$ref\":\"#/"
		     "p\"},{\"name\":\"id\",\"in\":\"path\"}],\"get\":{\"tags\":[\"a\",[\"b\"]]}}");
}

Test(yaml, reads_one_line_flow_collections)
{
	assert_reads("security: []\ntags: [users, 'a, b']\nm: {k: v, e: }\nr:\n- firebaseIdToken: []\n",
		     "{\"security\":[],\"tags\":[\"users\",\"a, "
		     "b\"],\"m\":{\"k\":\"v\",\"e\":null},\"r\":[{\"firebaseIdToken\":[]}]}");
}

Test(yaml, reads_empty_values_and_nulls_as_null_and_everything_else_as_strings)
{
	assert_reads("a:\nb: ~\nc: null\nd: 'null'\ne: true\nf: -1\n",
		     "{\"a\":null,\"b\":null,\"c\":null,\"d\":\"null\",\"e\":\"true\",\"f\":\"-1\"}");
}

Test(yaml, folds_plain_and_quoted_scalars_over_lines)
{
	assert_reads("a: one\n  two\n\n  three\nb: 'it''s: a\n  b'\nc: \"x\\\n  y \\u00e9\"\n",
		     "{\"a\":\"one two\\nthree\",\"b\":\"it's: a b\",\"c\":\"xy \xc3\xa9\"}");
}

Test(yaml, reads_literal_and_folded_block_scalars_with_chomping)
{
	assert_reads("a: |\n  one\n    two\n\n  three\nb: >\n  one\n  two\n\n  three\n    four\n  five\nc: >-\n  x\nd: "
		     "|+\n  y\n\ne: 1\n",
		     "{\"a\":\"one\\n  two\\n\\nthree\\n\",\"b\":\"one two\\nthree\\n  four\\nfive\\n\",\"c\":\"x\","
		     "\"d\":\"y\\n\\n\",\"e\":\"1\"}");
}

Test(yaml, keeps_comment_text_that_is_not_a_comment)
{
	assert_reads("a: C#sharp # a comment\nb: '# not one'\nc: |\n  # inside\n",
		     "{\"a\":\"C#sharp\",\"b\":\"# not one\",\"c\":\"# inside\\n\"}");
}

Test(yaml, refuses_anchors_aliases_and_tags)
{
	assert_refuses("a: &x 1\n", "line 1:", "anchors");
	assert_refuses("a: 1\nb: *x\n", "line 2:", "anchors");
	assert_refuses("a: !!str 1\n", "line 1:", "tags");
	assert_refuses("? a\n", "line 1:", "complex keys");
}

Test(yaml, refuses_duplicate_keys)
{
	assert_refuses("get:\n  a: 1\nget:\n  a: 2\n", "line 3:", "duplicate key get");
	assert_refuses("m: {a: 1, a: 2}\n", "line 1:", "duplicate key a");
}

Test(yaml, refuses_tabs_carriage_returns_and_document_markers)
{
	assert_refuses("a:\n\tb: 1\n", "line 2:", "tab");
	assert_refuses("a: 1\r\n", "line 1:", "carriage return");
	assert_refuses("---\na: 1\n", "line 1:", "document markers");
}

Test(yaml, refuses_indentation_that_fits_no_node)
{
	assert_refuses("a:\n    b: 1\n  c: 2\n", "line 3:", "indentation");
	assert_refuses("a: 1\n  b: 2\n", "line 2:", "continuation");
	assert_refuses("a:\n  - x\n  b: 1\n", "line 3:", "indentation");
}

Test(yaml, refuses_what_a_yaml_parser_reads_as_an_implicit_key)
{
	assert_refuses("a: b: c\n", "line 1:", "implicit key");
}

Test(yaml, refuses_flow_collections_over_lines_and_unterminated_quotes)
{
	assert_refuses("a: [x,\n  y]\n", "line 1:", "close on its line");
	assert_refuses("a: 'x\nb: 1\n", "line 1:", "unterminated");
}

Test(yaml, refuses_block_scalar_indentation_indicators_and_a_top_level_sequence)
{
	assert_refuses("a: |2\n  x\n", "line 1:", "indentation indicator");
	assert_refuses("- a\n", "line 1:", "mapping");
}

Test(yaml, refuses_a_flow_collection_closed_by_the_wrong_bracket)
{
	assert_refuses("m: {a: 1]\n", "line 1:", "expected ',' or '}'");
	assert_refuses("s: [a}\n", "line 1:", "expected ',' or ']'");
}
