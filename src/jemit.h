/* SPDX-License-Identifier: MIT */
/*
 * One way to write a JSON value, two places for it to go.
 *
 * The fields of each object of the contract (a socket, a holder, a port
 * group...) are written once, as calls on a struct jw; the backend decides
 * what they become:
 *   - text (jw_init_text): bytes streamed into a buffer flushed with
 *     fwrite, laid out exactly as json_dumps(JSON_INDENT(2) |
 *     JSON_PRESERVE_ORDER) followed by pw_json_terminal_safe() would print
 *     the same document: nothing is kept per value, so memory stays flat
 *     however many sockets are written;
 *   - tree (jw_init_tree): a json_t built on a stack of open containers,
 *     for the verbs that embed an object in a larger document.
 *
 * Every call takes key: the member's name inside an object (our own
 * printable ASCII, written as is), NULL for an array element or the
 * document itself. Strings are made valid UTF-8 (pw_utf8_sanitize) and NULL
 * becomes null. Errors stick: the first one (-ENOMEM, -EIO for a failed
 * write, -E2BIG for nesting deeper than JW_MAX_DEPTH) is kept in err and
 * every later call only tracks the nesting.
 */
#ifndef PORTWHO_JEMIT_H
#define PORTWHO_JEMIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pw_addr;

#define JW_MAX_DEPTH 32

struct jw {
	int err;
	int depth; /* containers open */
	bool tree;
	/* text */
	bool nonempty[JW_MAX_DEPTH + 1]; /* [d]: the container at depth d has an item */
	FILE *f;
	char *buf;
	size_t n, cap;
	/* tree: stack[d - 1] is the container at depth d */
	json_t *stack[JW_MAX_DEPTH];
	json_t *root;
};

/* Text to f. jw_text_finish ends the document with a newline, flushes and
 * returns err (0 when every byte was handed to f). */
void jw_init_text(struct jw *w, FILE *f);
int jw_text_finish(struct jw *w);

/* A json_t. jw_tree_finish returns the document (the caller's reference),
 * or NULL with *err set (when err is not NULL) after a failure. */
void jw_init_tree(struct jw *w);
json_t *jw_tree_finish(struct jw *w, int *err);

void jw_obj_begin(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_int(struct jw *w, const char *key, long long v);
void jw_str(struct jw *w, const char *key, const char *s); /* NULL: null */
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);
void jw_tri(struct jw *w, const char *key, int8_t v); /* < 0: null */
/* the plain address ("10.0.0.1", "::1"), null when it cannot be written */
void jw_addr(struct jw *w, const char *key, const struct pw_addr *a);

/* A JSON string for raw (NULL: null), valid UTF-8; NULL when out of memory. */
json_t *jw_string_json(const char *raw);

#endif
