/* The pty for `berth shell`: the sandbox opens it on its own devpts and
 * hands the master to berth, which relays it to the caller's terminal in
 * raw mode and follows window resizes. */
#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "sandbox-private.h"

int send_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds)
{
        struct iovec iov = { .iov_base = (void *) data, .iov_len = len };
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
                struct cmsghdr align;
        } u = {};
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (n_fds > MAX_PASSED_FDS)
                return -1;
        if (n_fds) {
                msg.msg_control = u.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t) len ? 0 : -1;
}

int recv_fds(int sock, void *data, size_t len, int *fds, size_t *n_fds)
{
        struct iovec iov = { .iov_base = data, .iov_len = len };
        union {
                char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
                struct cmsghdr align;
        } u = {};
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        ssize_t n;
        *n_fds = 0;
        while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
                ;
        if (n < 0)
                return -1;
        /* Fds that came with a short message are ours too: close them. */
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                *n_fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                memcpy(fds, CMSG_DATA(c), sizeof(int) * *n_fds);
        }
        if (n != (ssize_t) len) {
                for (size_t i = 0; i < *n_fds; i++)
                        close(fds[i]);
                *n_fds = 0;
                errno = EPROTO;
                return -1;
        }
        return 0;
}

int send_fd(int sock, int fd)
{
        return send_fds(sock, "f", 1, &fd, 1);
}

int recv_fd(int sock, const char *what, int *ret_fd, berth_error **err)
{
        char tag;
        size_t n = 0;
        int fds[MAX_PASSED_FDS];
        int r = recv_fds(sock, &tag, 1, fds, &n);
        if (r < 0 || n != 1) {
                int e = r < 0 ? errno : 0;
                for (size_t i = 0; i < n; i++)
                        close(fds[i]);
                return berth_err(err, e, "receive %s", what);
        }
        *ret_fd = fds[0];
        return 0;
}
