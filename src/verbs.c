/* SPDX-License-Identifier: MIT */
/*
 * The verbs of portwho, in one place: `portwho VERB ...` runs verbs[i]
 * .dispatch; anything else is the main command (portwho.c). Adding a verb is
 * one line here (and its cmd_NAME in portwho-cmd.h).
 */
#include <string.h>

#include "portwho-cmd.h"

const struct verb verbs[] = {
    {"check", cmd_check, "PORTSPEC [OPTIONS]", "would a bind succeed? (check --help)"},
    {"kill", cmd_kill, "...", "see 'portwho kill --help'"},
    {"watch", cmd_watch, "[PORTSPEC...]", "binds, listens, closes as they happen"},
    {},
};

const struct verb *verb_find(const char *word)
{
	for (const struct verb *v = verbs; v->name; v++)
		if (!strcmp(v->name, word))
			return v;
	return NULL;
}
