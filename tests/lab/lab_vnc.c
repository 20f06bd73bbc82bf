// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A minimal RFB 3.8 client (RFC 6143) for the lab: connect, security type
 * None, ClientInit (shared), SetEncodings raw, then full-screen update
 * requests; the server's messages are parsed only to know when an update is
 * complete and to count it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab_vnc.h"

enum { ST_TYPE, ST_UPDATE_HDR, ST_RECT_HDR, ST_CMAP_HDR, ST_CUT_HDR, ST_LOST };

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read exactly len bytes before deadline (monotonic s). */
static int read_exact(struct lab_vnc *v, void *buf, size_t len, double deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = v->fd, .events = POLLIN };
		int left = (int)((deadline - mono_s()) * 1000);
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(v->fd, (char *)buf + got, len - got);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		got += (size_t)n;
		v->bytes += (uint64_t)n;
	}
	return 0;
}

static int write_all(struct lab_vnc *v, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(v->fd, (const char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = v->fd, .events = POLLOUT };

				poll(&pfd, 1, 100);
				continue;
			}
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

static int request_update(struct lab_vnc *v)
{
	unsigned char req[10] = { 3, 0, 0, 0, 0, 0,
				  (unsigned char)(v->width >> 8), (unsigned char)v->width,
				  (unsigned char)(v->height >> 8), (unsigned char)v->height };
	int err = write_all(v, req, sizeof(req));

	if (!err) {
		v->requests++;
		v->outstanding = 1;
		v->last_request = mono_s();
	}
	return err;
}

int lab_vnc_connect(struct lab_vnc *v, unsigned port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	double deadline = mono_s() + timeout_ms / 1000.0;
	unsigned char buf[256], ntypes, types[32], init[24];
	unsigned char set_enc[8] = { 2, 0, 0, 1, 0, 0, 0, 0 };	/* one encoding: raw */
	uint32_t result, name_len;
	int err, i, none = 0, one = 1;

	memset(v, 0, sizeof(*v));
	v->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (v->fd < 0)
		return -errno;
	if (connect(v->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto fail;
	}
	setsockopt(v->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* ProtocolVersion: "RFB 003.008\n" both ways. */
	if ((err = read_exact(v, buf, 12, deadline)))
		goto fail;
	snprintf(v->version, sizeof(v->version), "%.11s", (char *)buf);
	if (strncmp((char *)buf, "RFB 003.", 8)) {
		err = -EPROTO;
		goto fail;
	}
	if ((err = write_all(v, "RFB 003.008\n", 12)))
		goto fail;
	/* Security types; pick None (1). */
	if ((err = read_exact(v, &ntypes, 1, deadline)))
		goto fail;
	if (!ntypes || ntypes > sizeof(types)) {
		err = -EPROTO;		/* 0 = the server refuses us (a reason follows) */
		goto fail;
	}
	if ((err = read_exact(v, types, ntypes, deadline)))
		goto fail;
	for (i = 0; i < ntypes; i++)
		none |= types[i] == 1;
	if (!none) {
		err = -EACCES;		/* a password or TLS: not for the lab */
		goto fail;
	}
	buf[0] = 1;
	if ((err = write_all(v, buf, 1)) || (err = read_exact(v, buf, 4, deadline)))
		goto fail;
	result = be32(buf);
	if (result) {
		err = -EACCES;
		goto fail;
	}
	/* ClientInit (shared) and ServerInit. */
	buf[0] = 1;
	if ((err = write_all(v, buf, 1)) || (err = read_exact(v, init, 24, deadline)))
		goto fail;
	v->width = (uint16_t)be16(init);
	v->height = (uint16_t)be16(init + 2);
	v->bpp = init[4];
	v->depth = init[5];
	name_len = be32(init + 20);
	while (name_len) {
		uint32_t n = name_len < sizeof(buf) ? name_len : sizeof(buf);

		if ((err = read_exact(v, buf, n, deadline)))
			goto fail;
		if (!v->name[0])
			snprintf(v->name, sizeof(v->name), "%.*s", (int)n, (char *)buf);
		name_len -= n;
	}
	if (!v->bpp || v->bpp % 8) {
		err = -EPROTO;
		goto fail;
	}
	v->handshake_bytes = v->bytes;
	if ((err = write_all(v, set_enc, sizeof(set_enc))))
		goto fail;
	fcntl(v->fd, F_SETFL, fcntl(v->fd, F_GETFL) | O_NONBLOCK);
	v->state = ST_TYPE;
	v->hdr_need = 1;
	return request_update(v);
fail:
	close(v->fd);
	v->fd = -1;
	return err;
}

static void expect(struct lab_vnc *v, int state, int need)
{
	v->state = state;
	v->hdr_need = need;
	v->hdr_have = 0;
}

/* A whole header has arrived: decide what follows. */
static void on_header(struct lab_vnc *v)
{
	const unsigned char *h = v->hdr;
	unsigned w, hh;

	switch (v->state) {
	case ST_TYPE:
		switch (h[0]) {
		case 0: expect(v, ST_UPDATE_HDR, 3); break;	/* pad, number-of-rectangles */
		case 1: expect(v, ST_CMAP_HDR, 5); break;	/* pad, first-colour, n */
		case 2: v->other_msgs++; expect(v, ST_TYPE, 1); break;	/* Bell */
		case 3: expect(v, ST_CUT_HDR, 7); break;	/* pad[3], length */
		default: v->state = ST_LOST; v->lost_sync = 1; break;
		}
		break;
	case ST_UPDATE_HDR:
		v->rects_left = be16(h + 1);
		if (!v->rects_left) {
			v->updates++;
			v->outstanding = 0;
			expect(v, ST_TYPE, 1);
		} else {
			expect(v, ST_RECT_HDR, 12);
		}
		break;
	case ST_RECT_HDR:
		w = be16(h + 4);
		hh = be16(h + 6);
		if (be32(h + 8) != 0) {		/* only raw was offered */
			v->state = ST_LOST;
			v->lost_sync = 1;
			break;
		}
		v->rects++;
		v->skip = (uint64_t)w * hh * (v->bpp / 8);
		v->pixel_bytes += v->skip;
		if (--v->rects_left) {
			expect(v, ST_RECT_HDR, 12);
		} else {
			/* Counted as complete now; its pixels are still skipped below. */
			v->updates++;
			v->outstanding = 0;
			expect(v, ST_TYPE, 1);
		}
		break;
	case ST_CMAP_HDR:
		v->other_msgs++;
		v->skip = (uint64_t)be16(h + 3) * 6;
		expect(v, ST_TYPE, 1);
		break;
	case ST_CUT_HDR:
		v->other_msgs++;
		v->skip = be32(h + 3);
		expect(v, ST_TYPE, 1);
		break;
	}
}

static void feed(struct lab_vnc *v, const unsigned char *p, size_t n)
{
	while (n && v->state != ST_LOST) {
		size_t take;

		if (v->skip) {
			take = n < v->skip ? n : (size_t)v->skip;
			v->skip -= take;
		} else {
			take = (size_t)(v->hdr_need - v->hdr_have);
			if (take > n)
				take = n;
			memcpy(v->hdr + v->hdr_have, p, take);
			v->hdr_have += (int)take;
			if (v->hdr_have == v->hdr_need)
				on_header(v);
		}
		p += take;
		n -= take;
	}
}

int lab_vnc_pump(struct lab_vnc *v, int period_ms)
{
	unsigned char buf[65536];

	if (v->fd < 0)
		return -EBADF;
	for (;;) {
		ssize_t n = read(v->fd, buf, sizeof(buf));

		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		v->bytes += (uint64_t)n;
		feed(v, buf, (size_t)n);
	}
	/* The next request once the previous update is all in (or lost track of). */
	if ((!v->outstanding || v->lost_sync) && !v->skip &&
	    mono_s() - v->last_request >= period_ms / 1000.0)
		return request_update(v);
	return 0;
}

void lab_vnc_close(struct lab_vnc *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
