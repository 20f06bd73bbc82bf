/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Finding VMM processes in /proc. */
#ifndef LM_PROCSCAN_H
#define LM_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 1 if pid has /dev/kvm or a KVM VM file open, 0 if not, -errno (-ESRCH: no such process). */
int lm_proc_is_vmm(pid_t pid);
/* 1 if pid still has the socket with this inode open, 0 if not, -errno. */
int lm_proc_has_socket(pid_t pid, uint64_t ino);
/* Every process with /dev/kvm or a KVM VM open; returns how many (at most max). */
int lm_proc_find_vmms(pid_t *pids, int max);
/*
 * 1 if pid's VM is the one pattern (a shell glob) names: its QEMU -name (as
 * libvirt sets it, the domain name), else its command name, or its -uuid
 * (libvirt's domain UUID, any case).
 */
int lm_proc_matches(pid_t pid, const char *pattern);
/* QEMU's -name, else the command name. */
void lm_proc_name(pid_t pid, char *buf, size_t len);
/*
 * The value after option opt ("-name" or "--name", "-uuid") on pid's QEMU
 * command line, the guest= part of -name guest=NAME,..., ",," read as a
 * comma: 0, -ENOENT if it has none, or -errno.
 */
int lm_proc_qemu_option(pid_t pid, const char *opt, char *buf, size_t len);

#endif /* LM_PROCSCAN_H */
