// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab_qemu.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int lab_qemu_start(struct lab_qemu *vm, const char *name, const struct lab_vm_config *cfg,
		   const char *dir, const char *incoming)
{
	char mem[32], qmp[300], qmp2[300], serial[300];
	const char *argv[40];
	int argc = 0, fd;
	pid_t parent = getpid(), pid;

	memset(vm, 0, sizeof(*vm));
	vm->name = name;
	snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/%s.qmp", dir, name);
	snprintf(vm->qmp2_path, sizeof(vm->qmp2_path), "%s/%s-tracer.qmp", dir, name);
	snprintf(vm->serial_path, sizeof(vm->serial_path), "%s/%s.serial", dir, name);
	snprintf(vm->log_path, sizeof(vm->log_path), "%s/%s.log", dir, name);
	snprintf(mem, sizeof(mem), "%uM", cfg->mem_mib);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", vm->qmp_path);
	snprintf(qmp2, sizeof(qmp2), "unix:%s,server=on,wait=off", vm->qmp2_path);
	snprintf(serial, sizeof(serial), "file:%s", vm->serial_path);

	argv[argc++] = cfg->qemu;
	argv[argc++] = "-name";
	argv[argc++] = name;
	argv[argc++] = "-enable-kvm";
	argv[argc++] = "-m";
	argv[argc++] = mem;
	argv[argc++] = "-display";
	argv[argc++] = "none";
	argv[argc++] = "-monitor";
	argv[argc++] = "none";
	argv[argc++] = "-serial";
	argv[argc++] = serial;
	argv[argc++] = "-qmp";
	argv[argc++] = qmp;
	argv[argc++] = "-qmp";
	argv[argc++] = qmp2;
	argv[argc++] = "-no-reboot";
	/* No NIC: its iPXE option ROM alone costs ~5 s of boot under PVM's emulator. */
	argv[argc++] = "-nic";
	argv[argc++] = "none";
	if (cfg->bios) {
		argv[argc++] = "-bios";
		argv[argc++] = cfg->bios;
	}
	/* Both sides get the same machine, -kernel included: its option ROM is a RAM block too. */
	argv[argc++] = "-kernel";
	argv[argc++] = cfg->guest;
	argv[argc++] = "-append";
	argv[argc++] = cfg->append;
	if (cfg->vnc) {
		/* Next to -display none: a VNC server only, no local window. */
		argv[argc++] = "-vnc";
		argv[argc++] = cfg->vnc;
	}
	if (incoming) {
		argv[argc++] = "-incoming";
		argv[argc++] = incoming;
	}
	argv[argc] = NULL;

	fd = open(vm->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0) {
		/* No QEMU outlives the lab, even if the driver is SIGKILLed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		signal(SIGINT, SIG_IGN);	/* Ctrl-C goes to the driver, which stops us */
		execvp(argv[0], (char **)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	vm->pid = pid;
	return 0;
}

/* Longer than any stall a test provokes; the driver has nothing else to do meanwhile. */
#define LAB_QMP_TIMEOUT_MS	15000

int lab_qemu_connect(struct lab_qemu *vm, int timeout_ms)
{
	int waited = 0, err;

	for (;;) {
		err = lm_qmp_open(&vm->qmp, vm->qmp_path, 2000);
		if (!err) {
			/* the driver waits out a monitor stall (tests stop QEMU for seconds) */
			lm_qmp_set_timeout(vm->qmp, LAB_QMP_TIMEOUT_MS);
			return 0;
		}
		/* QEMU still starting: no socket yet, or (seen once in ~40 runs) a
		 * handshake that did not parse; both are worth another try */
		if ((err != -ENOENT && err != -ECONNREFUSED && err != -EPROTO && err != -ECONNRESET) ||
		    waited >= timeout_ms)
			return err;
		if (!lab_qemu_alive(vm))
			return -ESRCH;
		sleep_ms(50);
		waited += 50;
	}
}

int lab_qemu_alive(struct lab_qemu *vm)
{
	if (vm->pid <= 0)
		return 0;
	if (waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
		vm->pid = -vm->pid;	/* remember it, but it is gone */
		return 0;
	}
	return 1;
}

void lab_qemu_stop(struct lab_qemu *vm)
{
	int i;

	lm_qmp_close(vm->qmp);
	vm->qmp = NULL;
	if (!lab_qemu_alive(vm))
		return;
	kill(vm->pid, SIGTERM);
	for (i = 0; i < 40 && lab_qemu_alive(vm); i++)
		sleep_ms(50);
	if (lab_qemu_alive(vm)) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		vm->pid = -vm->pid;
	}
}
