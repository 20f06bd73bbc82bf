// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* kvm_gt's migration stream: see kvm_gt_net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvm_gt_net.h"

#define GT_NET_CHUNK	(64 * 1024)
#define GT_ACCEPT_TIMEOUT_MS (120 * 1000)

static void receiver_main(int lfd, int result_fd)
{
	static char buf[GT_NET_CHUNK];
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	uint64_t total = 0;
	ssize_t n;
	int fd;

	/* Never outlive the VMM, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	if (poll(&pfd, 1, GT_ACCEPT_TIMEOUT_MS) != 1)
		_exit(1);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	while ((n = recv(fd, buf, sizeof(buf), 0)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		total += (uint64_t)n;
	}
	if (write(result_fd, &total, sizeof(total)) != sizeof(total))
		_exit(1);
	_exit(0);
}

int gt_net_start_receiver(struct gt_net *net, uint16_t port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	int lfd, pipefd[2], one = 1, err;

	memset(net, 0, sizeof(*net));
	net->sock = net->result_fd = -1;
	net->receiver = -1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len)) {
		err = -errno;
		fprintf(stderr, "kvm_gt: cannot listen on 127.0.0.1:%u: %s (pick another --port)\n",
			port, strerror(errno));
		close(lfd);
		return err;
	}
	net->port = ntohs(addr.sin_port);
	if (pipe2(pipefd, O_CLOEXEC)) {
		err = -errno;
		close(lfd);
		return err;
	}
	fflush(NULL);
	net->receiver = fork();
	if (net->receiver < 0) {
		err = -errno;
		close(lfd);
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (net->receiver == 0) {
		close(pipefd[0]);
		receiver_main(lfd, pipefd[1]);
	}
	close(lfd);
	close(pipefd[1]);
	net->result_fd = pipefd[0];
	return 0;
}

int gt_net_connect(struct gt_net *net)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(net->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int err;

	net->sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (net->sock < 0)
		return -errno;
	if (connect(net->sock, (struct sockaddr *)&addr, sizeof(addr))) {
		err = -errno;
		fprintf(stderr, "kvm_gt: connect to 127.0.0.1:%u failed: %s\n",
			net->port, strerror(errno));
		return err;
	}
	return 0;
}

int gt_net_send(struct gt_net *net, uint64_t bytes)
{
	static char buf[GT_NET_CHUNK];

	if (!buf[0])
		memset(buf, 0x6d, sizeof(buf));
	while (bytes) {
		size_t want = bytes < sizeof(buf) ? (size_t)bytes : sizeof(buf);
		ssize_t n = send(net->sock, buf, want, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kvm_gt: send failed: %s\n", strerror(errno));
			return -errno;
		}
		bytes -= (uint64_t)n;
		net->sent += (uint64_t)n;
	}
	return 0;
}

int gt_net_finish(struct gt_net *net, uint64_t *received)
{
	int status, err = 0;
	ssize_t n;

	if (net->sock >= 0) {
		close(net->sock);
		net->sock = -1;
	}
	n = read(net->result_fd, received, sizeof(*received));
	if (n != sizeof(*received)) {
		fprintf(stderr, "kvm_gt: the receiver did not report its byte count\n");
		err = -EIO;
	}
	close(net->result_fd);
	net->result_fd = -1;
	if (waitpid(net->receiver, &status, 0) == net->receiver &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !err) {
		fprintf(stderr, "kvm_gt: the receiver failed (status %#x)\n", status);
		err = -EIO;
	}
	net->receiver = -1;
	return err;
}

void gt_net_abort(struct gt_net *net)
{
	if (net->sock >= 0)
		close(net->sock);
	if (net->result_fd >= 0)
		close(net->result_fd);
	if (net->receiver > 0) {
		kill(net->receiver, SIGKILL);
		waitpid(net->receiver, NULL, 0);
	}
	net->sock = net->result_fd = -1;
	net->receiver = -1;
}
