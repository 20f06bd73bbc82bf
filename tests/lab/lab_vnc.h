/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A minimal VNC (RFB 3.8) client: enough to make a QEMU VNC server send real
 * bytes on a TCP connection of its own (a non-migration socket of the VMM),
 * and to count what came back. Security type None, raw encoding only,
 * full-screen (non-incremental) update requests at a fixed period.
 */
#ifndef LAB_VNC_H
#define LAB_VNC_H

#include <stdint.h>

struct lab_vnc {
	int fd;				/* -1 when closed */
	char version[16];		/* the server's ProtocolVersion, e.g. "RFB 003.008" */
	uint16_t width, height;		/* ServerInit */
	uint8_t bpp, depth;
	char name[64];			/* desktop name */
	uint64_t bytes;			/* everything received, handshake included */
	uint64_t handshake_bytes;
	uint64_t updates;		/* complete FramebufferUpdate messages */
	uint64_t rects, pixel_bytes, other_msgs;
	uint64_t requests;		/* FramebufferUpdateRequests sent */
	int lost_sync;			/* a message we cannot parse: bytes still counted */
	/* parser */
	int state, hdr_need, hdr_have;
	unsigned char hdr[16];
	uint64_t skip;			/* payload bytes still to discard */
	unsigned rects_left;
	int outstanding;		/* a request not yet answered by a whole update */
	double last_request;		/* monotonic seconds */
};

/* Connect to 127.0.0.1:port, do the RFB handshake, ask for raw updates. */
int lab_vnc_connect(struct lab_vnc *v, unsigned port, int timeout_ms);
/*
 * Read what has arrived (non-blocking) and, when the previous update is
 * complete and period_ms has passed, request the whole screen again.
 * Returns 0, or -ECONNRESET if the server closed, or -errno.
 */
int lab_vnc_pump(struct lab_vnc *v, int period_ms);
void lab_vnc_close(struct lab_vnc *v);

#endif
