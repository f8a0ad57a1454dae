/* SPDX-License-Identifier: MIT */
/* The JSON emitter of jemit.h: the text and the tree backends. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jemit.h"
#include "portwho.h"

#define JW_BUF (1 << 17)

static void fail(struct jw *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* ---- text ---------------------------------------------------------------- */

void jw_init_text(struct jw *w, FILE *f)
{
	memset(w, 0, offsetof(struct jw, stack));
	w->f = f;
	w->cap = JW_BUF;
	w->buf = malloc(JW_BUF);
	if (!w->buf)
		w->err = -ENOMEM;
}

static void flush(struct jw *w)
{
	if (w->n && !w->err && fwrite(w->buf, 1, w->n, w->f) != w->n)
		w->err = -EIO;
	w->n = 0;
}

/* Room for need bytes (need <= JW_BUF) at w->buf + w->n. */
static inline char *room(struct jw *w, size_t need)
{
	if (w->cap - w->n < need)
		flush(w);
	return w->buf + w->n;
}

static void out_raw(struct jw *w, const char *s, size_t n)
{
	if (w->cap - w->n >= n) { /* nearly always: one copy */
		memcpy(w->buf + w->n, s, n);
		w->n += n;
		return;
	}
	while (n) {
		if (w->n == w->cap)
			flush(w);
		size_t k = w->cap - w->n < n ? w->cap - w->n : n;
		memcpy(w->buf + w->n, s, k);
		w->n += k;
		s += k;
		n -= k;
	}
}

static inline void out_c(struct jw *w, char c)
{
	*room(w, 1) = c;
	w->n++;
}

int jw_text_finish(struct jw *w)
{
	if (!w->err)
		out_c(w, '\n');
	flush(w);
	free(w->buf);
	w->buf = NULL;
	return w->err;
}

/* ",\n" and the deepest indentation: every lead is one run of it */
static const char leads[2 + 2 * JW_MAX_DEPTH + 1] =
    ",\n                                                                ";
#define KEY_FAST 64 /* our keys are shorter; a longer one takes the slow way */

/* What comes before a value: at depth d, "\n" (first item) or ",\n", the
 * indentation of d, then "key": ". Nothing for the document itself. */
static void text_lead(struct jw *w, const char *key)
{
	int d = w->depth;
	if (d == 0)
		return;
	const char *lead = w->nonempty[d] ? leads : leads + 1;
	size_t ll = (w->nonempty[d] ? 2 : 1) + 2 * (size_t)d;
	w->nonempty[d] = true;
	size_t kl = 0;
	if (key)
		while (key[kl] && kl <= KEY_FAST)
			kl++;
	if (kl > KEY_FAST) { /* not one of ours, but still correct */
		out_raw(w, lead, ll);
		out_c(w, '"');
		out_raw(w, key, strlen(key));
		out_raw(w, "\": ", 3);
		return;
	}
	char *o = room(w, ll + KEY_FAST + 4);
	memcpy(o, lead, ll);
	o += ll;
	if (key) {
		*o++ = '"';
		for (size_t i = 0; i < kl; i++)
			o[i] = key[i];
		o += kl;
		*o++ = '"';
		*o++ = ':';
		*o++ = ' ';
	}
	w->n = (size_t)(o - w->buf);
}

static void text_int(struct jw *w, long long v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *p = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	size_t n = (size_t)(e - p);
	memcpy(room(w, n), p, n);
	w->n += n;
}

/* 1: written as is inside a JSON string (printable ASCII but '"' and '\\') */
static const unsigned char plain[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7e] = 1,
};

/* A string with a byte >= 0x80: repaired, encoded by jansson, made safe for
 * a terminal, as the whole document would be. Rare (process names and
 * command lines), so simple. */
static void text_str_slow(struct jw *w, const char *s)
{
	json_t *j = jw_string_json(s);
	char *txt = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	size_t n = txt ? strlen(txt) : 0;
	char *safe = txt ? pw_json_terminal_safe(txt, n, &n) : NULL;
	free(txt);
	if (!safe) {
		fail(w, -ENOMEM);
		return;
	}
	out_raw(w, safe, n);
	free(safe);
}

static void text_str(struct jw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *q = p;
	while (plain[*q])
		q++;
	size_t n = (size_t)(q - p);
	if (!*q && n + 2 <= JW_BUF) { /* plain ASCII to the end: one copy */
		char *o = room(w, n + 2);
		*o = '"';
		memcpy(o + 1, s, n);
		o[n + 1] = '"';
		w->n += n + 2;
		return;
	}
	for (const unsigned char *r = q; *r; r++)
		if (*r >= 0x80) {
			text_str_slow(w, s);
			return;
		}
	static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u001B */
	out_c(w, '"');
	for (;;) {
		q = p;
		while (plain[*q])
			q++;
		out_raw(w, (const char *)p, (size_t)(q - p));
		if (!*q)
			break;
		char *o = room(w, 6);
		char *start = o;
		*o++ = '\\';
		switch (*q) {
		case '"':
		case '\\':
			*o++ = (char)*q;
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default: /* other C0 controls (jansson), DEL (pw_json_terminal_safe) */
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[*q >> 4];
			*o++ = hex[*q & 0xf];
		}
		w->n += (size_t)(o - start);
		p = q + 1;
	}
	out_c(w, '"');
}

static void text_begin(struct jw *w, const char *key, char c)
{
	text_lead(w, key);
	out_c(w, c);
	w->nonempty[w->depth + 1] = false;
}

static void text_end(struct jw *w, char c)
{
	/* "[]" / "{}" when empty, as jansson writes them */
	if (w->nonempty[w->depth]) {
		int d = w->depth - 1;
		char *o = room(w, 1 + 2 * (size_t)d);
		memcpy(o, leads + 1, 1 + 2 * (size_t)d);
		w->n += 1 + 2 * (size_t)d;
	}
	out_c(w, c);
}

/* ---- tree ---------------------------------------------------------------- */

void jw_init_tree(struct jw *w)
{
	memset(w, 0, sizeof(*w));
	w->tree = true;
}

json_t *jw_tree_finish(struct jw *w, int *err)
{
	if (!w->err && (w->depth || !w->root))
		w->err = -EINVAL; /* unbalanced, or nothing written */
	if (w->err) {
		json_decref(w->root);
		w->root = NULL;
		if (err && !*err)
			*err = w->err;
		return NULL;
	}
	json_t *r = w->root;
	w->root = NULL;
	return r;
}

/* Put v (taking the reference) where the next value goes. */
static void tree_put(struct jw *w, const char *key, json_t *v)
{
	if (!v) {
		fail(w, -ENOMEM);
		return;
	}
	if (w->depth == 0) {
		if (w->root) {
			json_decref(v);
			fail(w, -EINVAL);
			return;
		}
		w->root = v;
		return;
	}
	json_t *top = w->stack[w->depth - 1];
	int r = json_is_object(top)
		    ? (key ? json_object_set_new(top, key, v) : (json_decref(v), -1))
		    : json_array_append_new(top, v);
	if (r < 0)
		fail(w, -ENOMEM);
}

/* ---- the API ------------------------------------------------------------- */

static void begin(struct jw *w, const char *key, bool obj)
{
	if (w->depth == JW_MAX_DEPTH)
		fail(w, -E2BIG);
	if (w->err) {
		w->depth++;
		return;
	}
	if (w->tree) {
		json_t *c = obj ? json_object() : json_array();
		tree_put(w, key, json_incref(c));
		if (!w->err)
			w->stack[w->depth] = c;
		json_decref(c); /* the parent (or root) holds it */
	} else {
		text_begin(w, key, obj ? '{' : '[');
	}
	w->depth++;
}

static void end(struct jw *w, bool obj)
{
	if (w->depth == 0) {
		fail(w, -EINVAL);
		return;
	}
	if (!w->err && !w->tree)
		text_end(w, obj ? '}' : ']');
	w->depth--;
}

void jw_obj_begin(struct jw *w, const char *key)
{
	begin(w, key, true);
}

void jw_obj_end(struct jw *w)
{
	end(w, true);
}

void jw_arr_begin(struct jw *w, const char *key)
{
	begin(w, key, false);
}

void jw_arr_end(struct jw *w)
{
	end(w, false);
}

void jw_int(struct jw *w, const char *key, long long v)
{
	if (w->err)
		return;
	if (w->tree) {
		tree_put(w, key, json_integer(v));
		return;
	}
	text_lead(w, key);
	text_int(w, v);
}

void jw_str(struct jw *w, const char *key, const char *s)
{
	if (!s) {
		jw_null(w, key);
		return;
	}
	if (w->err)
		return;
	if (w->tree) {
		tree_put(w, key, jw_string_json(s));
		return;
	}
	text_lead(w, key);
	text_str(w, s);
}

static void literal(struct jw *w, const char *key, json_t *v, const char *text, size_t n)
{
	if (w->err)
		return;
	if (w->tree) {
		tree_put(w, key, v);
		return;
	}
	text_lead(w, key);
	out_raw(w, text, n);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	if (v)
		literal(w, key, json_true(), "true", 4);
	else
		literal(w, key, json_false(), "false", 5);
}

void jw_null(struct jw *w, const char *key)
{
	literal(w, key, json_null(), "null", 4);
}

void jw_tri(struct jw *w, const char *key, int8_t v)
{
	if (v < 0)
		jw_null(w, key);
	else
		jw_bool(w, key, v != 0);
}

void jw_addr(struct jw *w, const char *key, const struct pw_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 1];
	if (pw_addr_format(a, false, buf, sizeof(buf)) < 0)
		jw_null(w, key);
	else
		jw_str(w, key, buf);
}

json_t *jw_string_json(const char *raw)
{
	if (!raw)
		return json_null();
	size_t n = 0;
	bool ascii = true;
	for (const unsigned char *p = (const unsigned char *)raw; *p; p++, n++)
		ascii &= *p < 0x80;
	if (ascii) /* the common case needs no repair and no copy */
		return json_stringn_nocheck(raw, n);
	char *u = pw_utf8_sanitize(raw);
	if (!u)
		return NULL;
	json_t *j = json_string(u);
	free(u);
	return j;
}
