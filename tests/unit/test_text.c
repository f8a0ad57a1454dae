/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <iconv.h>

#include "internal.h"

static void esc_is(const char *raw, const char *want)
{
	char *got = pw_escape_text(raw);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_escape_plain(void **state)
{
	(void)state;
	esc_is("", "");
	esc_is("nginx", "nginx");
	esc_is("/usr/sbin/sshd -D", "/usr/sbin/sshd -D");
	esc_is("~!@#$%^&*()_+{}|:\"<>?`-=[];',./", "~!@#$%^&*()_+{}|:\"<>?`-=[];',./");
	/* valid multibyte UTF-8 passes through: 2, 3 and 4 byte forms, and the
	 * highest code point and the last ones before/after the surrogates */
	esc_is("caf\xc3\xa9", "caf\xc3\xa9");
	esc_is("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac");
	esc_is("\xf0\x9f\x90\xa7 penguin", "\xf0\x9f\x90\xa7 penguin");
	esc_is("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
	esc_is("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80");
	esc_is("\xc2\xa0", "\xc2\xa0"); /* U+00A0, first after the C1 block */
	assert_null(pw_escape_text(NULL));
}

static void test_escape_controls(void **state)
{
	(void)state;
	esc_is("a\nb", "a\\nb");
	esc_is("a\tb", "a\\tb");
	esc_is("a\rb", "a\\rb");
	esc_is("a\\b", "a\\\\b");
	esc_is("\x1b[31mred\x1b[0m", "\\e[31mred\\e[0m");
	esc_is("\x01\x07\x08\x0b\x0c\x1f", "\\x01\\x07\\x08\\x0b\\x0c\\x1f");
	esc_is("del\x7f", "del\\x7f");
	/* C1 controls, encoded as UTF-8: U+0080, U+009B (CSI), U+009F */
	esc_is("\xc2\x80\xc2\x9b\xc2\x9f", "\\xc2\\x80\\xc2\\x9b\\xc2\\x9f");
	/* bidi overrides and line separators would rearrange a table row */
	esc_is("a\xe2\x80\xaetxt.exe", "a\\xe2\\x80\\xaetxt.exe");
	esc_is("\xe2\x80\xa8", "\\xe2\\x80\\xa8");
	esc_is("\xe2\x81\xa6x\xe2\x81\xa9", "\\xe2\\x81\\xa6x\\xe2\\x81\\xa9");
	esc_is("\xd8\x9c", "\\xd8\\x9c");
	/* neighbours of those stay */
	esc_is("\xe2\x80\xa7\xe2\x80\xaf", "\xe2\x80\xa7\xe2\x80\xaf");
}

static void test_escape_invalid(void **state)
{
	(void)state;
	esc_is("\xff", "\\xff");
	esc_is("a\x80z", "a\\x80z");	  /* lone continuation byte */
	esc_is("\xc0\xaf", "\\xc0\\xaf"); /* overlong '/' */
	esc_is("\xc1\xbf", "\\xc1\\xbf");
	esc_is("\xe0\x80\xaf", "\\xe0\\x80\\xaf");	    /* overlong 3-byte */
	esc_is("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"); /* overlong 4-byte */
	esc_is("\xed\xa0\x80", "\\xed\\xa0\\x80");	    /* surrogate U+D800 */
	esc_is("\xed\xbf\xbf", "\\xed\\xbf\\xbf");	    /* surrogate U+DFFF */
	esc_is("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* U+110000 */
	esc_is("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
	esc_is("\xe2\x82", "\\xe2\\x82");   /* truncated at the end */
	esc_is("\xe2\x82z", "\\xe2\\x82z"); /* truncated in the middle */
	esc_is("\xf0\x9f\x90", "\\xf0\\x9f\\x90");
	/* a bad lead byte does not swallow the valid character after it */
	esc_is("\xc3\xc3\xa9", "\\xc3\xc3\xa9");
	esc_is("\xe2\xf0\x9f\x90\xa7", "\\xe2\xf0\x9f\x90\xa7");
}

static void san_is(const char *raw, const char *want)
{
	char *got = pw_utf8_sanitize(raw);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

#define FFFD "\xef\xbf\xbd"

static void test_sanitize(void **state)
{
	(void)state;
	san_is("", "");
	san_is("nginx: worker", "nginx: worker");
	san_is("caf\xc3\xa9 \xf0\x9f\x90\xa7", "caf\xc3\xa9 \xf0\x9f\x90\xa7");
	/* controls stay: the JSON encoder escapes them */
	san_is("a\nb\t\x1b[0m\x7f", "a\nb\t\x1b[0m\x7f");
	san_is("\xc2\x9b", "\xc2\x9b");
	/* every bad byte becomes one U+FFFD */
	san_is("\xff", FFFD);
	san_is("a\x80z", "a" FFFD "z");
	san_is("\xc0\xaf", FFFD FFFD);
	san_is("\xed\xa0\x80", FFFD FFFD FFFD);
	san_is("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
	san_is("\xe2\x82", FFFD FFFD);
	san_is("\xc3\xc3\xa9", FFFD "\xc3\xa9");
	assert_null(pw_utf8_sanitize(NULL));
}

/* glibc's UTF-8 decoder is strict (no overlongs, surrogates or > U+10FFFF),
 * so it serves as an independent judge of "valid UTF-8" here. */
static bool iconv_valid(const char *s)
{
	iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
	assert_true(cd != (iconv_t)-1);
	size_t inlen = strlen(s), outlen = inlen * 4 + 4;
	char *out = malloc(outlen), *o = out, *in = (char *)s;
	size_t r = iconv(cd, &in, &inlen, &o, &outlen);
	iconv_close(cd);
	free(out);
	return r != (size_t)-1 && inlen == 0;
}

static void test_sanitize_random(void **state)
{
	(void)state;
	/* Random bytes biased towards UTF-8 lead and continuation bytes, so that
	 * near-valid sequences are common. Fixed seed: reproducible. */
	static const unsigned char pool[] = {'a',  '\n', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
					     0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0,
					     0xf4, 0xf5, 0xff, 0xe2, 0x81, 0xa6};
	unsigned seed = 12345;
	char buf[33];
	for (int n = 0; n < 20000; n++) {
		size_t len = (size_t)(rand_r(&seed) % 32);
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)pool[rand_r(&seed) % sizeof(pool)];
		buf[len] = '\0';

		char *s = pw_utf8_sanitize(buf);
		assert_non_null(s);
		assert_true(iconv_valid(s));
		/* already-valid input comes back unchanged */
		if (iconv_valid(buf))
			assert_string_equal(s, buf);
		free(s);

		/* escaped text is valid UTF-8 too, and holds no control bytes */
		char *e = pw_escape_text(buf);
		assert_non_null(e);
		assert_true(iconv_valid(e));
		for (const unsigned char *p = (const unsigned char *)e; *p; p++)
			assert_true(*p >= 0x20 && *p != 0x7f);
		free(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_plain),    cmocka_unit_test(test_escape_controls),
	    cmocka_unit_test(test_escape_invalid),  cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_sanitize_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
