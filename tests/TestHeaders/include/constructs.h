/* SPDX-License-Identifier: MIT */
/*
 * Every C construct a UAPI header uses that the extractor and the generator must survive, with
 * the layout gcc gives it. Written for the tests; no device behind it.
 */
#ifndef _CONSTRUCTS_H
#define _CONSTRUCTS_H

#include <linux/types.h>
#include <other/colors.h>

/* A named member whose type is an unnamed union of unnamed structs (userfaultfd.h's uffd_msg). */
struct cx_msg {
	__u8 event;
	__u8 reserved[3];
	union {
		struct {
			__u64 flags;
			__u64 address;
		} fault;
		struct {
			__u32 ufd;
		} fork;
		__u64 raw[3];
	} arg;
} __attribute__((packed));

/* An array of an unnamed struct (drm.h's drm_stats). */
struct cx_stats {
	__u32 count;
	struct {
		__u32 value;
		__u16 type;
	} data[15];
};

/* Typedefs of an unnamed struct and an unnamed enum. */
typedef struct {
	__u32 lo;
	__u32 hi;
} cx_pair_t;

typedef enum {
	CX_MODE_OFF,
	CX_MODE_ON,
} cx_mode_t;

struct cx_holder {
	cx_pair_t pair;
	cx_mode_t mode;
	enum color tint;          /* an enum of another header */
	struct point where;       /* a struct of another header */
};

/* Padding bitfields, named and unnamed, and a zero-width one. */
struct cx_bits {
	__u32 a : 3;
	__u32   : 5;
	__u32 b : 4;
	__u32   : 0;
	__u16 c : 7;
};

/* Flexible arrays in the three spellings. */
struct cx_flex_c99 {
	__u32 n;
	__u64 items[];
};

struct cx_flex_gnu {
	__u32 n;
	__u8 bytes[0];
};

struct cx_flex_macro {
	__u32 kind;
	union {
		__DECLARE_FLEX_ARRAY(__u32, words);
		__DECLARE_FLEX_ARRAY(__u8, octets);
	};
};

/* A flexible array of pointers (ethtool.h's ethtool_tunable). */
struct cx_flex_pointers {
	__u32 n;
	void *items[];
};

/* A packed struct as an array element strides by its packed size. */
struct cx_packed {
	__u8 tag;
	__u32 value;
} __attribute__((packed));

struct cx_packed_array {
	__u8 count;
	struct cx_packed entries[3];
};

/* Arrays of pointers and of records. */
struct cx_pointers {
	void *slots[4];
	const char *names[2];
	struct point points[2];
	__u8 grid[2][3];
};

/* A member named like its struct (CS0542 in C#). */
struct cx_self {
	__u32 cx_self;
	__u32 other;
};

/* A typedef name and an enum tag that are one identifier (C keeps them apart; C# does not). */
typedef struct { __u32 v; } cx_shared;
enum cx_shared { CX_SHARED_A = 1 };

/* An anonymous enum member and a macro of one name, and one with another value. */
enum { CX_SAME = 3, CX_DIFFERENT = 4 };
#define CX_SAME 3
#define CX_DIFFERENT 5

/* long double has no C# type: kept as bytes. */
struct cx_wide {
	__u32 n;
	long double scale;
	__u32 after;
	__int128 big;
};

/* Found by random headers (RandomHeaderTests), each kept here. */

/* Members named like members every C# struct has. */
struct cx_members {
	__u32 ToString;
	__u32 Equals;
	__u32 GetHashCode;
};

/* Bits a packed record places across their declared unit and past the record's end (4 bytes, not 8). */
struct cx_packed_bits {
	unsigned int a : 6;
	__u64 b : 8;
	__u64 c : 15;
} __attribute__((packed, aligned(4)));

/* A packed 64-bit field that starts inside a byte spans nine: no integer holds it. */
struct cx_nine_bytes {
	__u8 low : 4;
	__u64 wide : 64;
} __attribute__((packed));

/* Members of size 0 in the middle occupy nothing (a record of size 0, a zero-length array). */
struct cx_empty {
	__u8 none[0];
};

struct cx_zero_members {
	__u32 a;
	struct cx_empty e[3];
	__u16 z[0];
	__u32 b;
};

/* A tagged record declared inside an untagged member, reached by nothing else. */
struct cx_deep {
	struct {
		__u32 x;
		struct cx_deep_inner {
			__u8 none[0];
		} y;
	} outer;
};

/* Floating-point constants. */
#define CX_SCALE 1.5
#define CX_SCALE_F 0.25f

/* Ioctls of every shape. */
#define CX_IOC_MAGIC 'x'
#define CX_IOC_BASE 0x40
#define CX_IO(nr)            _IO(CX_IOC_MAGIC, CX_IOC_BASE + (nr))
#define CX_IOWR(nr, type)    _IOWR(CX_IOC_MAGIC, CX_IOC_BASE + (nr), type)

#define CX_RESET        CX_IO(0)
#define CX_GET_MSG      CX_IOWR(1, struct cx_msg)
#define CX_SET_U64      _IOW(CX_IOC_MAGIC, 2, __u64)
#define CX_GET_PAIR     _IOR(CX_IOC_MAGIC, 3, cx_pair_t)
#define CX_GET_RANGE    _IOR(CX_IOC_MAGIC, 4, __u64[2])
#define CX_GET_PTR      _IOR(CX_IOC_MAGIC, 5, void *)
#define CX_SET_MODE     _IOW(CX_IOC_MAGIC, 6, cx_mode_t)
#define CX_RAW          _IOC(_IOC_READ, CX_IOC_MAGIC, 7, 12)

#endif /* _CONSTRUCTS_H */
