/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One QEMU of the lab: started with the lab guest, watched by pid, reached
 * over QMP, stopped by pid. The child gets PR_SET_PDEATHSIG so no QEMU
 * outlives the driver, whatever kills it.
 */
#ifndef LAB_QEMU_H
#define LAB_QEMU_H

#include <sys/types.h>
#include "lab_qmp.h"

struct lab_vm_config {
	const char *qemu;	/* qemu-system-x86_64 */
	const char *guest;	/* guest.elf */
	const char *bios;	/* -bios, NULL = QEMU's default (SeaBIOS) */
	char append[256];	/* guest command line */
	unsigned mem_mib;
	const char *vnc;	/* -vnc argument (e.g. "127.0.0.1:42400"), NULL = none */
};

struct lab_qemu {
	const char *name;	/* "src", "dst" */
	pid_t pid;		/* 0 = not running */
	char qmp_path[256];	/* the lab's QMP socket */
	char qmp2_path[256];	/* a second QMP socket, free for a tracer (QEMU serves one client per socket) */
	char serial_path[256];
	char log_path[256];	/* QEMU's own stdout/stderr */
	struct lm_qmp *qmp;
};

/* Start QEMU; incoming = NULL for the source, else a -incoming URI or "defer". */
int lab_qemu_start(struct lab_qemu *vm, const char *name, const struct lab_vm_config *cfg,
		   const char *dir, const char *incoming);
/* Connect the lab's QMP client, retrying while QEMU creates its socket. */
int lab_qemu_connect(struct lab_qemu *vm, int timeout_ms);
/* 1 while the process exists (reaps it once it has exited). */
int lab_qemu_alive(struct lab_qemu *vm);
/* Close QMP, SIGTERM, wait up to 2 s, then SIGKILL; safe to call twice. */
void lab_qemu_stop(struct lab_qemu *vm);

#endif
