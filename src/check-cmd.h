/* SPDX-License-Identifier: MIT */
/* portwho check: the command (check.c) and its renderers (check-render.c). */
#ifndef PW_CHECK_CMD_H
#define PW_CHECK_CMD_H

#include "portwho-check.h"
#include "portwho-cmd.h"

void check_print_text(FILE *f, const struct pw_check_request *q, const struct pw_check_answer *a);
/* The answer as one JSON document; NULL when out of memory. */
json_t *check_json(const struct pw_check_request *q, const struct pw_check_answer *a);

#endif
