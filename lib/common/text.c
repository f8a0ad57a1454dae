/* SPDX-License-Identifier: MIT */
/* Process names and command lines are attacker-chosen bytes: make them safe
 * for a terminal (escape) and for JSON (valid UTF-8). */
#include <stdint.h>

#include "internal.h"

/* Length of the well-formed UTF-8 sequence at s (1-4), 0 when the bytes there
 * are not one: overlong forms, surrogates, code points above U+10FFFF and
 * truncated sequences all count as invalid. Never reads past a NUL, because
 * NUL is not a continuation byte. */
static size_t utf8_len(const unsigned char *s, uint32_t *ret_cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

	if (c < 0x80) {
		*ret_cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f; /* U+D800..U+DFFF are surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	*ret_cp = cp;
	return n;
}

/* Invisible format characters that reorder or break what a terminal shows
 * (bidi overrides, line separators): a hostile name could make a table row
 * lie about its neighbours, so they are escaped like controls. */
static bool is_format_trap(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static char *put_hex(char *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	*o++ = '\\';
	*o++ = 'x';
	*o++ = hex[c >> 4];
	*o++ = hex[c & 0xf];
	return o;
}

char *pw_escape_text(const char *raw)
{
	if (!raw)
		return NULL;

	size_t len = strlen(raw);
	if (len > (SIZE_MAX - 1) / 4)
		return NULL;
	char *out = malloc(len * 4 + 1); /* worst case: every byte becomes \xHH */
	if (!out)
		return NULL;

	const unsigned char *s = (const unsigned char *)raw;
	char *o = out;
	while (*s) {
		uint32_t cp;
		size_t n = utf8_len(s, &cp);
		const char *named = NULL;

		switch (n ? cp : UINT32_MAX) {
		case '\n':
			named = "\\n";
			break;
		case '\t':
			named = "\\t";
			break;
		case '\r':
			named = "\\r";
			break;
		case '\\':
			named = "\\\\";
			break;
		case 0x1b:
			named = "\\e";
			break;
		}
		if (named) {
			memcpy(o, named, 2);
			o += 2;
			s++;
		} else if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
			   is_format_trap(cp)) {
			/* escape every byte: an invalid sequence resynchronises at the next byte */
			size_t k = n ? n : 1;
			for (size_t i = 0; i < k; i++)
				o = put_hex(o, s[i]);
			s += k;
		} else {
			memcpy(o, s, n);
			o += n;
			s += n;
		}
	}
	*o = '\0';
	return out;
}

char *pw_utf8_sanitize(const char *raw)
{
	if (!raw)
		return NULL;

	size_t len = strlen(raw);
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(len * 3 + 1); /* worst case: every byte becomes U+FFFD */
	if (!out)
		return NULL;

	const unsigned char *s = (const unsigned char *)raw;
	char *o = out;
	while (*s) {
		uint32_t cp;
		size_t n = utf8_len(s, &cp);
		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			s++;
		} else {
			/* controls stay: the JSON encoder escapes them */
			memcpy(o, s, n);
			o += n;
			s += n;
		}
	}
	*o = '\0';
	return out;
}

/* DEL, C1 controls and format characters: valid in JSON strings, but a
 * terminal acts on them. */
static bool json_needs_escape(uint32_t cp)
{
	return (cp >= 0x7f && cp <= 0x9f) || is_format_trap(cp);
}

char *pw_json_terminal_safe(const char *json, size_t len, size_t *ret_len)
{
	if (!json || len > (SIZE_MAX - 1) / 6)
		return NULL;
	char *out = malloc(len * 6 + 1); /* worst case: every DEL becomes \u007f */
	if (!out)
		return NULL;
	static const char hex[] = "0123456789ABCDEF"; /* as jansson writes \u001B */
	const unsigned char *s = (const unsigned char *)json, *end = s + len;
	char *o = out;
	while (s < end) {
		uint32_t cp = 0;
		size_t n = *s ? utf8_len(s, &cp) : 1;
		if (n == 0 || (size_t)(end - s) < n) {
			*o++ = (char)*s++; /* not UTF-8 (jansson never writes it): as is */
			continue;
		}
		if (json_needs_escape(cp)) {
			/* every such code point is below U+10000: one \uXXXX */
			*o++ = '\\';
			*o++ = 'u';
			for (int shift = 12; shift >= 0; shift -= 4)
				*o++ = hex[(cp >> shift) & 0xf];
		} else {
			memcpy(o, s, n);
			o += n;
		}
		s += n;
	}
	*o = '\0';
	if (ret_len)
		*ret_len = (size_t)(o - out);
	return out;
}
