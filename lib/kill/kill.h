/* SPDX-License-Identifier: MIT */
/* The kill room's interface is public now: include/portwho-kill.h. */
#include "portwho-kill.h"
