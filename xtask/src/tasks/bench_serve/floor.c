/* bench-serve's floor: the least a web server can do on this machine, so that
 * the benchmark has the physical limit as a row in the same run.
 *
 * Usage: floor PORT PAGE-FILE. It listens on 127.0.0.1:PORT, forks one process
 * per core, and each runs one epoll loop over a listening socket of its own
 * (SO_REUSEPORT, so the kernel spreads connections evenly, as serve's
 * listeners do). Per connection it
 * reads, counts the request heads (each ends in an empty line), and writes
 * one prebuilt response (status line, Content-Type, Content-Length, the page)
 * per head, from where the last write stopped. A head that says
 * `Connection: close` gets the prebuilt close response, and the connection
 * closes once it is sent. Nothing else: no parsing, no methods, no paths, no
 * timeouts, no limits. It is not a server to run, only a floor to measure.
 *
 * Built by `cargo xtask bench-serve` with `gcc -O2` at run time. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct conn {
    unsigned pending;  /* responses owed */
    size_t sent;       /* bytes of the current response already written */
    int close;         /* the last head asked for Connection: close */
    int tail;          /* bytes of "\r\n\r\n" matched at the end of the last read */
};

static char *keep, *shut;
static size_t keep_len, shut_len;
static struct conn *conns;
static int max_fds;

static char *response(const char *page, size_t len, int close, size_t *out) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n%s\r\n",
                     len, close ? "Connection: close\r\n" : "");
    char *r = malloc(n + len);
    if (!r) { perror("malloc"); exit(1); }
    memcpy(r, head, n);
    memcpy(r + n, page, len);
    *out = n + len;
    return r;
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

/* Writes what is owed; 0 to keep the connection, -1 to close it. */
static int flush(int ep, int fd) {
    struct conn *c = &conns[fd];
    while (c->pending) {
        const char *r = c->close && c->pending == 1 ? shut : keep;
        size_t len = c->close && c->pending == 1 ? shut_len : keep_len;
        ssize_t n = write(fd, r + c->sent, len - c->sent);
        if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            return 0;
        }
        if (n <= 0) return -1;
        c->sent += n;
        if (c->sent == len) {
            c->sent = 0;
            c->pending--;
            if (!c->pending && c->close) return -1;
        }
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    return 0;
}

static void serve(int lfd) {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) { perror("epoll"); exit(1); }
    struct epoll_event evs[256];
    char buf[16384];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= max_fds) { close(c); continue; }
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    memset(&conns[c], 0, sizeof conns[c]);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            struct conn *c = &conns[fd];
            if (evs[i].events & EPOLLIN) {
                ssize_t r = read(fd, buf, sizeof buf);
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN) continue;
                    drop(ep, fd);
                    continue;
                }
                /* Each "\r\n\r\n" ends a head; it may straddle two reads. */
                for (ssize_t k = 0; k < r; k++) {
                    char want = "\r\n\r\n"[c->tail];
                    c->tail = buf[k] == want ? c->tail + 1 : (buf[k] == '\r');
                    if (c->tail == 4) {
                        c->tail = 0;
                        c->pending++;
                    }
                }
                if (memmem(buf, r, "onnection: close", 16) || memmem(buf, r, "onnection: Close", 16))
                    c->close = 1;
            }
            if (c->pending && flush(ep, fd) < 0) drop(ep, fd);
        }
    }
}

/* A non-blocking socket listening on 127.0.0.1:port, one of the port's
 * SO_REUSEPORT group; exits on an error. */
static int listener(int port) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
        perror("listen");
        exit(1);
    }
    return lfd;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: floor PORT PAGE-FILE\n");
        return 2;
    }
    int fd = open(argv[2], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { perror(argv[2]); return 1; }
    char *page = malloc(st.st_size + 1);
    if (!page || read(fd, page, st.st_size) != st.st_size) { perror(argv[2]); return 1; }
    close(fd);
    keep = response(page, st.st_size, 0, &keep_len);
    shut = response(page, st.st_size, 1, &shut_len);

    signal(SIGPIPE, SIG_IGN);
    max_fds = sysconf(_SC_OPEN_MAX);
    conns = calloc(max_fds, sizeof *conns);
    if (!conns) { perror("calloc"); return 1; }
    int port = atoi(argv[1]);
    int lfd = listener(port);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 1; i < cores; i++) {
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 1; }
        if (p == 0) {
            /* The benchmark stops the first process; the others go with it. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(lfd);
            lfd = listener(port);
            break;
        }
    }
    serve(lfd);
}
