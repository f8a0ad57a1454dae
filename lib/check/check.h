/* SPDX-License-Identifier: MIT */
/* The check room's interface is public now: include/portwho-check.h. */
#include "portwho-check.h"
