/* SPDX-License-Identifier: MIT */
/* libFuzzer: the command's JSON emitter (src/jemit.c). Its text backend must
 * print exactly what its tree backend's json_t prints through jansson and
 * pw_json_terminal_safe, for any bytes as a string value and as a key's
 * value in nested containers. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jemit.h"
#include "portwho.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void doc(struct jw *w, const char *s, unsigned shape)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "s", s);
	jw_arr_begin(w, "a");
	for (unsigned i = 0; i < (shape & 3); i++)
		jw_arr_begin(w, NULL);
	jw_str(w, NULL, s);
	jw_int(w, NULL, (long long)shape * -7919);
	if (shape & 4) {
		jw_obj_begin(w, NULL);
		jw_obj_end(w);
	}
	for (unsigned i = 0; i < (shape & 3); i++)
		jw_arr_end(w);
	jw_arr_end(w);
	jw_tri(w, "t", (int8_t)((shape >> 3) % 3) - 1);
	jw_obj_end(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned shape = data[0];
	char *raw = malloc(size);
	if (!raw)
		return 0;
	memcpy(raw, data + 1, size - 1);
	raw[size - 1] = '\0';

	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	struct jw *w = malloc(sizeof(*w));
	if (!f || !w)
		__builtin_trap();
	jw_init_text(w, f);
	doc(w, raw, shape);
	if (jw_text_finish(w) || fclose(f))
		__builtin_trap();

	jw_init_tree(w);
	doc(w, raw, shape);
	int err = 0;
	json_t *j = jw_tree_finish(w, &err);
	if (!j || err)
		__builtin_trap();
	char *dump = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	size_t n = dump ? strlen(dump) : 0;
	char *safe = dump ? pw_json_terminal_safe(dump, n, &n) : NULL;
	if (!safe)
		__builtin_trap();
	if (tlen != n + 1 || memcmp(text, safe, n) || text[n] != '\n')
		__builtin_trap(); /* the two backends disagree */
	free(safe);
	free(dump);
	free(text);
	free(w);
	free(raw);
	return 0;
}
