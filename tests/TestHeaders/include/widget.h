/* SPDX-License-Identifier: MIT */
/*
 * A small UAPI-style header written for Abi's own tests. It has what the
 * iommufd and VFIO headers lack: bitfields, a packed struct, a union with an
 * anonymous struct, and ioctl numbers that encode size and direction.
 */
#ifndef _WIDGET_H
#define _WIDGET_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define WIDGET_IOC_MAGIC	'w'
#define WIDGET_NAME_LEN		16
#define WIDGET_VERSION		"widget-1.0"
#define WIDGET_MAX_VALUES	(1U << 12)
#define WIDGET_NO_SERIAL	(-1LL)
#define WIDGET_VALUE_BYTES(n)	((n) * sizeof(union widget_value))

/**
 * enum widget_flags - what a widget can do
 * @WIDGET_FLAG_SPIN: it spins
 * @WIDGET_FLAG_GLOW: it glows
 * @WIDGET_FLAG_HUM: it hums
 */
enum widget_flags {
	WIDGET_FLAG_SPIN = 1 << 0,
	WIDGET_FLAG_GLOW = 1 << 1,
	WIDGET_FLAG_HUM = 1 << 2,
};

/**
 * enum widget_mode - how a widget runs
 * @WIDGET_MODE_OFF: stopped
 * @WIDGET_MODE_ON: running
 * @WIDGET_MODE_AUTO: runs when needed
 */
enum widget_mode {
	WIDGET_MODE_OFF,
	WIDGET_MODE_ON,
	WIDGET_MODE_AUTO,
};

/**
 * struct widget_info - ioctl(WIDGET_GET_INFO)
 * @size: sizeof(struct widget_info)
 * @flags: combination of enum widget_flags
 * @name: NUL-terminated name
 * @mode: enum widget_mode
 * @revision: hardware revision
 * @sealed: 1 if the widget cannot be opened
 * @temperature: signed reading in degrees
 * @serial: serial number, or WIDGET_NO_SERIAL
 *
 * Describes a widget.
 */
struct widget_info {
	__u32 size;
	__u32 flags;
	char name[WIDGET_NAME_LEN];
	__u32 mode : 2;
	__u32 revision : 5;
	__u32 sealed : 1;
	__s32 temperature : 8;
	__aligned_u64 serial;
};

/**
 * union widget_value - a reading, raw or split
 * @raw: the whole reading
 * @halves: the reading as two signed halves
 * @lo: low 16 bits
 * @hi: next 16 bits
 */
union widget_value {
	__u64 raw;
	__s32 halves[2];
	struct {
		__u16 lo;
		__u16 hi;
	};
};

/**
 * struct widget_batch - ioctl(WIDGET_SUBMIT)
 * @argsz: size of the struct and its values
 * @count: number of values
 * @values: the values
 */
struct widget_batch {
	__u32 argsz;
	__u32 count;
	union widget_value values[];
};

/* A register write, as the device's mailbox packs it. */
struct widget_regs {
	__u8 bank;
	__u16 reg;
	__u32 value;
	__u8 grid[2][3];
} __attribute__((packed));

/* Two register writes in one mailbox: an array of a packed struct strides by its packed size. */
struct widget_mailbox {
	__u8 count;
	struct widget_regs regs[2];
};

#define WIDGET_GET_INFO		_IOR(WIDGET_IOC_MAGIC, 1, struct widget_info)
#define WIDGET_SET_MODE		_IOW(WIDGET_IOC_MAGIC, 2, __u32)
#define WIDGET_SUBMIT		_IOWR(WIDGET_IOC_MAGIC, 3, struct widget_batch)
#define WIDGET_RESET		_IO(WIDGET_IOC_MAGIC, 4)
#define WIDGET_POKE		_IOW(WIDGET_IOC_MAGIC, 5, struct widget_regs)

#endif /* _WIDGET_H */
