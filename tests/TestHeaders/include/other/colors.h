/* SPDX-License-Identifier: MIT */
/* An enum declared in another header, used by constructs.h. */
#ifndef _OTHER_COLORS_H
#define _OTHER_COLORS_H

enum color { COLOR_RED = 1, COLOR_GREEN = 2, COLOR_BLUE = 4 };

struct point { int x; int y; };

#endif
