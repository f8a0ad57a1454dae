/* libFuzzer: the text escapers that stand between process names and a
 * terminal. Checks their promises, not only memory safety. */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = malloc(size + 1);
	if (!raw)
		return 0;
	memcpy(raw, data, size);
	raw[size] = '\0';

	char *e = pw_escape_text(raw);
	if (!e)
		__builtin_trap();
	for (const unsigned char *p = (const unsigned char *)e; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			__builtin_trap(); /* no C0 control or DEL reaches a terminal */
	free(e);

	char *u = pw_utf8_sanitize(raw);
	if (!u)
		__builtin_trap();
	size_t n = 0;
	char *j = pw_json_terminal_safe(u, strlen(u), &n);
	if (!j || strlen(j) != n)
		__builtin_trap();
	for (const unsigned char *p = (const unsigned char *)j; *p; p++) {
		if (*p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			__builtin_trap(); /* DEL and C1 are written \uXXXX */
		if (p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae)
			__builtin_trap(); /* bidi embeddings and overrides too */
	}
	free(j);
	free(u);
	free(raw);
	return 0;
}
