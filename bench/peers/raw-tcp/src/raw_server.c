/* raw-tcp-server: the "no WebSocket at all" ceiling for the benchmark matrix. One thread, one epoll loop,
 * edge-triggered non-blocking sockets; no framing, no parsing, no per-message work beyond read() and write().
 *
 *   --mode echo       every byte read from a connection is written back to it
 *   --mode broadcast  every chunk read from any connection is written to every connection, the sender included
 *
 * On accepting a connection the server writes one byte ('!'): the client takes that as "accepted", the way a
 * WebSocket client takes the 101 response, so it knows the server has the connection before it counts it as open
 * (it matters for broadcast: a subscriber the server has not accepted yet would miss messages). A connection whose
 * peer half-closes is closed by the server, so TIME_WAIT lands on the server's side as with the WebSocket servers.
 *
 * Bytes the kernel does not take at once wait in a per-connection buffer that exists only while it holds bytes;
 * an idle connection owns nothing here but its small record. A connection that is owed more than PENDING_LIMIT
 * is not read until that drains, which bounds echo; in broadcast only the load generator's window bounds what a
 * slow receiver is owed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUFFER_SIZE (256 * 1024)
#define PENDING_LIMIT (8u * 1024 * 1024) /* per connection: stop reading from a connection that owes this much */
#define ACCEPTED_MARK '!'

enum mode { MODE_ECHO, MODE_BROADCAST };

struct connection {
    int fd;
    uint32_t slot; /* index in `all` */
    int reading_paused; /* readable data left unread because the pending buffer was full */
    uint8_t *pending;
    size_t pending_offset, pending_length, pending_capacity;
};

static enum mode mode = MODE_ECHO;
static int epoll_fd;
static uint8_t read_buffer[READ_BUFFER_SIZE];
static struct connection **all;
static uint32_t count, capacity;
static volatile sig_atomic_t stopping;

static void on_signal(int signal_number) { stopping = signal_number; }

static void *allocate(void *old, size_t size)
{
    void *memory = realloc(old, size);
    if (!memory) {
        fprintf(stderr, "raw-tcp-server: out of memory (%zu bytes)\n", size);
        exit(1);
    }
    return memory;
}

static void close_connection(struct connection *c)
{
    close(c->fd); /* also removes it from the epoll set */
    all[c->slot] = all[--count];
    all[c->slot]->slot = c->slot;
    free(c->pending);
    free(c);
}

static size_t owed(const struct connection *c) { return c->pending_length - c->pending_offset; }

/* Writes what the pending buffer holds; returns -1 when the connection failed. */
static int flush_pending(struct connection *c)
{
    while (owed(c) > 0) {
        ssize_t written = send(c->fd, c->pending + c->pending_offset, owed(c), MSG_NOSIGNAL);
        if (written > 0)
            c->pending_offset += (size_t)written;
        else if (written < 0 && errno == EINTR)
            continue;
        else if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        else
            return -1;
    }
    free(c->pending); /* nothing is owed: hold no buffer */
    c->pending = NULL;
    c->pending_offset = c->pending_length = c->pending_capacity = 0;
    return 0;
}

/* Sends bytes to a connection, after anything it is still owed; keeps what the kernel does not take. */
static int deliver(struct connection *c, const uint8_t *bytes, size_t length)
{
    if (owed(c) == 0) {
        for (;;) {
            ssize_t written = send(c->fd, bytes, length, MSG_NOSIGNAL);
            if (written >= 0) {
                bytes += written;
                length -= (size_t)written;
                if (length == 0)
                    return 0;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            } else {
                return -1;
            }
        }
    }
    if (c->pending_capacity - c->pending_length < length) {
        size_t kept = owed(c);
        memmove(c->pending, c->pending + c->pending_offset, kept);
        c->pending_offset = 0;
        c->pending_length = kept;
        if (c->pending_capacity - kept < length) {
            size_t grown = c->pending_capacity ? c->pending_capacity : 4096;
            while (grown - kept < length)
                grown *= 2;
            c->pending = allocate(c->pending, grown);
            c->pending_capacity = grown;
        }
    }
    memcpy(c->pending + c->pending_length, bytes, length);
    c->pending_length += length;
    return 0;
}

/* Reads until the socket is empty (edge triggering), passing each chunk on; returns -1 when `c` was closed.
 * `drain`: the peer has half-closed, so read on to the end of the stream even after a short read (no further edge
 * would announce it). */
static int read_from(struct connection *c, int drain)
{
    for (;;) {
        if (owed(c) >= PENDING_LIMIT) {
            c->reading_paused = 1; /* resumed when the pending bytes drain */
            return 0;
        }
        ssize_t received = recv(c->fd, read_buffer, sizeof read_buffer, 0);
        if (received > 0) {
            if (mode == MODE_ECHO) {
                if (deliver(c, read_buffer, (size_t)received) < 0) {
                    close_connection(c);
                    return -1;
                }
            } else {
                /* Fan out; a receiver that fails is closed after the loop, so `all` does not shift under it. */
                int sender_failed = 0;
                for (uint32_t i = 0; i < count; i++) {
                    if (deliver(all[i], read_buffer, (size_t)received) < 0) {
                        shutdown(all[i]->fd, SHUT_RDWR); /* its epoll event closes it */
                        sender_failed |= all[i] == c;
                    }
                }
                if (sender_failed) {
                    close_connection(c);
                    return -1;
                }
            }
            if ((size_t)received < sizeof read_buffer && !drain)
                return 0; /* a short read emptied the socket; new data raises a new edge */
        } else if (received == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
            close_connection(c); /* the peer half-closed (or failed): close our side, so TIME_WAIT is ours */
            return -1;
        } else if (errno != EINTR) {
            return 0;
        }
    }
}

static void accept_all(int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("raw-tcp-server: accept");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct connection *c = allocate(NULL, sizeof *c);
        memset(c, 0, sizeof *c);
        c->fd = fd;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 1024;
            all = allocate(all, capacity * sizeof *all);
        }
        c->slot = count;
        all[count++] = c;
        struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        static const uint8_t accepted = ACCEPTED_MARK;
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) < 0 || deliver(c, &accepted, 1) < 0)
            close_connection(c);
    }
}

/* Port 0 picks a free port; the line printed on start says which. */
static int listen_on(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) < 0) {
        perror("raw-tcp-server: listen");
        exit(1);
    }
    *port = ntohs(address.sin_port);
    return fd;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: raw-tcp-server --port P [--mode echo|broadcast]   (P = 0: any free port)\n"
                 "  echo: every byte read is written back; broadcast: every chunk read from any connection goes\n"
                 "  to all of them. One byte '!' is written to each connection when it is accepted.\n");
}

int main(int argc, char **argv)
{
    int port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            if (strcmp(name, "echo") == 0)
                mode = MODE_ECHO;
            else if (strcmp(name, "broadcast") == 0)
                mode = MODE_BROADCAST;
            else {
                usage(stderr);
                return 1;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    if (port < 0 || port > 65535) {
        usage(stderr);
        return 1;
    }

    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    struct sigaction action = {.sa_handler = on_signal};
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int listener = listen_on(&port);
    struct epoll_event listen_event = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &listen_event);
    printf("raw-tcp-server %s on 127.0.0.1:%d\n", mode == MODE_ECHO ? "echo" : "broadcast", port);
    fflush(stdout);

    struct epoll_event events[512];
    while (!stopping) {
        int ready = epoll_wait(epoll_fd, events, 512, -1);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            perror("raw-tcp-server: epoll_wait");
            return 1;
        }
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            if (!c) {
                accept_all(listener);
                continue;
            }
            /* Connections closed earlier in this batch are freed: a broadcast fan-out closes only in the loop
             * that handles the failed connection's own event, so `c` is still valid here. */
            uint32_t flags = events[i].events;
            if ((flags & EPOLLOUT) && owed(c) > 0) {
                if (flush_pending(c) < 0) {
                    close_connection(c);
                    continue;
                }
                if (c->reading_paused && owed(c) < PENDING_LIMIT) {
                    c->reading_paused = 0;
                    if (read_from(c, 1) < 0)
                        continue;
                }
            }
            if (flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                read_from(c, (flags & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
        }
    }
    return 0;
}
