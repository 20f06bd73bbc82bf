/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * kvm_gt's migration stream: a loopback TCP connection to a child process
 * that counts the bytes it really receives. The receiver is a separate
 * process so that lmtrace -p <kvm_gt pid> sees only the sending side.
 */
#ifndef KVM_GT_NET_H
#define KVM_GT_NET_H

#include <stdint.h>
#include <sys/types.h>

struct gt_net {
	pid_t receiver;
	int result_fd;		/* the receiver writes its byte count here */
	int sock;		/* the sending end, -1 until connected */
	uint16_t port;
	uint64_t sent;
};

/* Forks the receiver listening on 127.0.0.1:port (0: any free port; the one
 * chosen is in net->port). Call before opening /dev/kvm. */
int gt_net_start_receiver(struct gt_net *net, uint16_t port);
int gt_net_connect(struct gt_net *net);
/* Sends exactly `bytes` bytes (non-zero data), blocking. */
int gt_net_send(struct gt_net *net, uint64_t bytes);
/* Closes the connection and collects the receiver's count. */
int gt_net_finish(struct gt_net *net, uint64_t *received);
/* Kills the receiver if it still runs (error paths). */
void gt_net_abort(struct gt_net *net);

#endif
