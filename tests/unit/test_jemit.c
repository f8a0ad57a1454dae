/* SPDX-License-Identifier: MIT */
/*
 * src/jemit.c: the text backend must print exactly what the tree backend's
 * json_t prints through json_dumps(JSON_INDENT(2) | JSON_PRESERVE_ORDER) and
 * pw_json_terminal_safe (what every other JSON output of portwho is), over
 * tricky strings and nesting; and a few layouts spelled out byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jemit.h"
#include "portwho.h"

typedef void (*doc_fn)(struct jw *w, const void *arg);

/* The text backend's bytes. */
static char *as_text(doc_fn fn, const void *arg, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	assert_non_null(f);
	struct jw *w = malloc(sizeof(*w));
	assert_non_null(w);
	jw_init_text(w, f);
	fn(w, arg);
	assert_int_equal(jw_text_finish(w), 0);
	free(w);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* The tree backend's json_t, printed as cli_json_print prints documents. */
static char *as_tree(doc_fn fn, const void *arg, size_t *len)
{
	struct jw *w = malloc(sizeof(*w));
	assert_non_null(w);
	jw_init_tree(w);
	fn(w, arg);
	int err = 0;
	json_t *doc = jw_tree_finish(w, &err);
	free(w);
	assert_int_equal(err, 0);
	assert_non_null(doc);
	char *txt = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(doc);
	assert_non_null(txt);
	size_t n = strlen(txt);
	char *safe = pw_json_terminal_safe(txt, n, &n);
	free(txt);
	assert_non_null(safe);
	char *out = malloc(n + 2);
	assert_non_null(out);
	memcpy(out, safe, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	free(safe);
	*len = n + 1;
	return out;
}

static void same_both(doc_fn fn, const void *arg)
{
	size_t tl, jl;
	char *t = as_text(fn, arg, &tl);
	char *j = as_tree(fn, arg, &jl);
	if (tl != jl || memcmp(t, j, tl)) {
		size_t i = 0;
		while (i < tl && i < jl && t[i] == j[i])
			i++;
		size_t from = i > 40 ? i - 40 : 0;
		print_error("text and tree differ at byte %zu:\ntext: %.80s\ntree: %.80s\n", i,
			    t + from, j + from);
		fail();
	}
	free(t);
	free(j);
}

static void text_is(doc_fn fn, const void *arg, const char *want)
{
	size_t n;
	char *t = as_text(fn, arg, &n);
	assert_int_equal(n, strlen(want));
	assert_string_equal(t, want);
	free(t);
	same_both(fn, arg);
}

/* ---- documents ----------------------------------------------------------- */

static void doc_string(struct jw *w, const void *arg)
{
	jw_str(w, NULL, arg);
}

static void doc_in_object(struct jw *w, const void *arg)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "command", arg);
	jw_arr_begin(w, "evidence");
	jw_str(w, NULL, arg);
	jw_str(w, NULL, "plain");
	jw_arr_end(w);
	jw_obj_end(w);
}

static void doc_nesting(struct jw *w, const void *arg)
{
	(void)arg;
	struct pw_addr v4 = {.family = AF_INET, .bytes = {10, 0, 0, 1}};
	struct pw_addr v6 = {.family = AF_INET6, .bytes = {[15] = 1}};
	struct pw_addr bad = {.family = 99};
	jw_obj_begin(w, NULL);
	jw_int(w, "zero", 0);
	jw_int(w, "neg", -1);
	jw_int(w, "min", LLONG_MIN);
	jw_int(w, "max", LLONG_MAX);
	jw_int(w, "u32", UINT32_MAX);
	jw_bool(w, "t", true);
	jw_bool(w, "f", false);
	jw_null(w, "n");
	jw_tri(w, "tri_unknown", -1);
	jw_tri(w, "tri_no", 0);
	jw_tri(w, "tri_yes", 1);
	jw_str(w, "null_string", NULL);
	jw_str(w, "empty", "");
	jw_addr(w, "v4", &v4);
	jw_addr(w, "v6", &v6);
	jw_addr(w, "bad", &bad);
	jw_arr_begin(w, "empty_array");
	jw_arr_end(w);
	jw_obj_begin(w, "empty_object");
	jw_obj_end(w);
	jw_arr_begin(w, "deep");
	for (int d = 0; d < 20; d++)
		jw_arr_begin(w, NULL);
	jw_obj_begin(w, NULL);
	jw_arr_begin(w, "a");
	jw_arr_end(w);
	jw_obj_end(w);
	jw_int(w, NULL, 7);
	for (int d = 0; d < 20; d++)
		jw_arr_end(w);
	jw_arr_end(w);
	jw_arr_begin(w, "mixed");
	jw_obj_begin(w, NULL);
	jw_obj_end(w);
	jw_arr_begin(w, NULL);
	jw_arr_end(w);
	jw_null(w, NULL);
	jw_str(w, NULL, "x");
	jw_arr_end(w);
	jw_obj_end(w);
}

/* more than the text buffer holds, in many small values and one big one */
static void doc_big(struct jw *w, const void *arg)
{
	const char *big = arg;
	jw_arr_begin(w, NULL);
	for (int i = 0; i < 20000; i++) {
		jw_obj_begin(w, NULL);
		jw_int(w, "i", i);
		jw_str(w, "s", i % 7 ? "abc\"def\\" : "caf\xc3\xa9\x7f");
		jw_obj_end(w);
	}
	jw_str(w, NULL, big);
	jw_arr_end(w);
}

/* ---- tests --------------------------------------------------------------- */

static void test_layout(void **state)
{
	(void)state;
	text_is(doc_string, "a", "\"a\"\n");
	text_is(doc_in_object, "x",
		"{\n  \"command\": \"x\",\n  \"evidence\": [\n    \"x\",\n    \"plain\"\n  ]\n}\n");
	text_is(doc_nesting, NULL,
		"{\n"
		"  \"zero\": 0,\n"
		"  \"neg\": -1,\n"
		"  \"min\": -9223372036854775808,\n"
		"  \"max\": 9223372036854775807,\n"
		"  \"u32\": 4294967295,\n"
		"  \"t\": true,\n"
		"  \"f\": false,\n"
		"  \"n\": null,\n"
		"  \"tri_unknown\": null,\n"
		"  \"tri_no\": false,\n"
		"  \"tri_yes\": true,\n"
		"  \"null_string\": null,\n"
		"  \"empty\": \"\",\n"
		"  \"v4\": \"10.0.0.1\",\n"
		"  \"v6\": \"::1\",\n"
		"  \"bad\": null,\n"
		"  \"empty_array\": [],\n"
		"  \"empty_object\": {},\n"
		"  \"deep\": [\n"
		"    [\n      [\n        [\n          [\n            [\n              [\n"
		"                [\n                  [\n                    [\n"
		"                      [\n                        [\n"
		"                          [\n                            [\n"
		"                              [\n                                [\n"
		"                                  [\n"
		"                                    [\n"
		"                                      [\n"
		"                                        [\n"
		"                                          [\n"
		"                                            {\n"
		"                                              \"a\": []\n"
		"                                            },\n"
		"                                            7\n"
		"                                          ]\n"
		"                                        ]\n"
		"                                      ]\n"
		"                                    ]\n"
		"                                  ]\n"
		"                                ]\n"
		"                              ]\n"
		"                            ]\n"
		"                          ]\n"
		"                        ]\n"
		"                      ]\n"
		"                    ]\n"
		"                  ]\n"
		"                ]\n"
		"              ]\n"
		"            ]\n"
		"          ]\n"
		"        ]\n"
		"      ]\n"
		"    ]\n"
		"  ],\n"
		"  \"mixed\": [\n"
		"    {},\n"
		"    [],\n"
		"    null,\n"
		"    \"x\"\n"
		"  ]\n"
		"}\n");
}

static void test_escapes(void **state)
{
	(void)state;
	text_is(doc_string, "q\"b\\s/", "\"q\\\"b\\\\s/\"\n");
	text_is(doc_string, "\b\f\n\r\t\x01\x1b\x1f", "\"\\b\\f\\n\\r\\t\\u0001\\u001B\\u001F\"\n");
	/* DEL, a C1 control (NEL), bidi override, right-to-left mark, bidi
	 * isolate: escaped for a terminal (pw_json_terminal_safe); a zero-width
	 * space, é and the penguin as they are */
	text_is(doc_string,
		"a\x7f"
		"b\xc2\x85"
		"c\xe2\x80\xae"
		"d\xe2\x80\x8f"
		"e\xe2\x81\xa6"
		"f\xe2\x80\x8b",
		"\"a\\u007Fb\\u0085c\\u202Ed\\u200Fe\\u2066f\xe2\x80\x8b\"\n");
	text_is(doc_string, "caf\xc3\xa9 \xf0\x9f\x90\xa7", "\"caf\xc3\xa9 \xf0\x9f\x90\xa7\"\n");
}

/* Every byte alone and inside a word, every 2-byte sequence starting with a
 * lead or continuation byte, code points around the C1, bidi and format
 * ranges, invalid UTF-8 (lone continuation, truncated, overlong,
 * surrogate, past U+10FFFF): both backends print the same. */
static void test_backends_agree(void **state)
{
	(void)state;
	char s[16];
	for (int b = 1; b < 256; b++) {
		snprintf(s, sizeof(s), "%c", b);
		same_both(doc_string, s);
		snprintf(s, sizeof(s), "ab%cd\"", b);
		same_both(doc_in_object, s);
		for (int c = 0x80; c < 0x100 && b >= 0x80; c += 7) {
			snprintf(s, sizeof(s), "%c%cz", b, c);
			same_both(doc_string, s);
		}
	}
	static const unsigned cps[] = {0x7f,   0x80,   0x9f,   0xa0,	0xad,	 0x34f,	  0x61c,
				       0x115f, 0x180e, 0x200b, 0x200e,	0x200f,	 0x2028,  0x2029,
				       0x202a, 0x202e, 0x2060, 0x2066,	0x2069,	 0x206f,  0xfeff,
				       0xfff9, 0xfffb, 0xfffd, 0x1d173, 0xe0001, 0x10ffff};
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		unsigned cp = cps[i];
		unsigned char u[8] = {0};
		if (cp < 0x80) {
			u[0] = (unsigned char)cp;
		} else if (cp < 0x800) {
			u[0] = (unsigned char)(0xc0 | cp >> 6);
			u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			u[0] = (unsigned char)(0xe0 | cp >> 12);
			u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		} else {
			u[0] = (unsigned char)(0xf0 | cp >> 18);
			u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
			u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		}
		snprintf(s, sizeof(s), "x%s\\y", (char *)u);
		same_both(doc_in_object, s);
	}
	static const char *const bad[] = {
	    "\x80",
	    "\xc3",
	    "a\xc3",
	    "\xe2\x80",
	    "\xc0\xaf",
	    "\xe0\x80\xaf",
	    "\xed\xa0\x80",
	    "\xf4\x90\x80\x80",
	    "\xf8\x88\x80\x80\x80",
	    "\xff\xfe",
	    "ok\xe2\x80\xaeok\xff",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		same_both(doc_in_object, bad[i]);
	same_both(doc_nesting, NULL);
}

static void test_big(void **state)
{
	(void)state;
	size_t n = 300000;
	char *big = malloc(n + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = "ab\"\\\n\x7f"[i % 6];
	big[n] = '\0';
	same_both(doc_big, big);
	free(big);
}

static void doc_unbalanced(struct jw *w, const void *arg)
{
	(void)arg;
	jw_obj_begin(w, NULL);
	jw_int(w, "a", 1);
}

static void doc_two_roots(struct jw *w, const void *arg)
{
	(void)arg;
	jw_int(w, NULL, 1);
	jw_int(w, NULL, 2);
}

static void doc_too_deep(struct jw *w, const void *arg)
{
	(void)arg;
	for (int d = 0; d <= JW_MAX_DEPTH; d++)
		jw_arr_begin(w, NULL);
	for (int d = 0; d <= JW_MAX_DEPTH; d++)
		jw_arr_end(w);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		doc_fn fn;
		int err;
	} cases[] = {{doc_unbalanced, -EINVAL}, {doc_two_roots, -EINVAL}, {doc_too_deep, -E2BIG}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jw w;
		jw_init_tree(&w);
		cases[i].fn(&w, NULL);
		int err = 0;
		assert_null(jw_tree_finish(&w, &err));
		assert_int_equal(err, cases[i].err);
	}
	/* the text backend reports nesting too deep, and a failed write */
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	struct jw *w = malloc(sizeof(*w));
	assert_non_null(w);
	jw_init_text(w, f);
	doc_too_deep(w, NULL);
	assert_int_equal(jw_text_finish(w), -E2BIG);
	fclose(f);
	free(buf);
	f = fopen("/dev/full", "w");
	if (f) {
		setvbuf(f, NULL, _IONBF, 0);
		jw_init_text(w, f);
		doc_nesting(w, NULL);
		assert_int_equal(jw_text_finish(w), -EIO);
		fclose(f);
	}
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),	   cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_backends_agree), cmocka_unit_test(test_big),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
