/* tern-load: a WebSocket load generator for loopback benchmarks of WebSocket servers.
 *
 * With --tls it speaks wss (OpenSSL over the same non-blocking sockets, tls.c); with --deflate it negotiates
 * permessage-deflate (RFC 7692, pmdeflate.c), compresses what it sends and inflates what arrives compressed.
 *
 * With --raw it speaks plain TCP instead, to measure the ceiling of the machine with no WebSocket at all
 * (bench/peers/raw-tcp): no upgrade request (the server's one-byte greeting stands for the 101 response), no frame
 * headers and no masking (a message is just its --size bytes, delimited by counting), and no close frames (a
 * half-close, answered by the server closing TCP).
 *
 * One epoll loop per worker thread over non-blocking sockets, edge-triggered so the steady state makes no
 * epoll_ctl calls; every frame a read produces is answered into a per-connection output buffer that is
 * written once per read. The coordinating main thread only moves the run through its phases
 * (connect, run, stop), measures, and reports. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "payload.h"
#include "pmdeflate.h"
#include "procinfo.h"
#include "sha1.h"
#include "tls.h"
#include "wsframe.h"

#define READ_BUFFER_SIZE (256 * 1024)
#define HANDSHAKE_BUFFER_SIZE 4096
#define HEAD_CAPACITY 32
#define ECHO_HEAD 16      /* an echoed message starts with its sequence number in hex */
#define BROADCAST_HEAD 32 /* a broadcast message starts with its sequence number and send time in hex */
#define MAX_CONNECTIONS 1000000u
#define MAX_INFLIGHT 65536u
#define MAX_SIZE (1ull << 30)
#define SCAN_INTERVAL_NS 100000000ull
#define RAW_ACCEPTED_MARK '!' /* --raw: the byte the server writes when it accepts a connection */
#define RAW_PING_SIZE 8       /* --raw hold: a ping is the 8-byte send time, echoed back */
#define INFLATE_BUFFER_SIZE (64 * 1024)
/* --deflate echo: messages are compressed before the run, one per value of the sequence number's slot (the
 * sequence number modulo this), so that the load generator pays for inflating echoes only, never for deflating. */
#define MAX_COMPRESSED_VARIANTS 1024u
#define COMPRESSED_VARIANTS_BYTES (64u * 1024 * 1024) /* fewer variants for large messages */

enum mode { MODE_ECHO, MODE_BROADCAST, MODE_CONNECT, MODE_HOLD };
static const char *const mode_names[] = {"echo", "broadcast", "connect", "hold"};

enum phase { PHASE_CONNECT, PHASE_RUN, PHASE_STOP };

enum state {
    STATE_IDLE,       /* no socket yet (or, in connect mode, between two cycles) */
    STATE_CONNECTING, /* TCP connect in progress */
    STATE_TLS,        /* --tls: TLS handshake in progress */
    STATE_HANDSHAKE,  /* upgrade request sent, waiting for 101 */
    STATE_OPEN,
    STATE_CLOSING,   /* our close frame sent, waiting for the server's */
    STATE_AWAIT_EOF, /* close frames exchanged, waiting for the server to close TCP (RFC 6455 7.1.1) */
    STATE_DONE,
};

enum role { ROLE_ECHO, ROLE_PUBLISHER, ROLE_SUBSCRIBER, ROLE_HOLD, ROLE_CYCLE };

struct options {
    enum mode mode;
    const char *host;
    int port;
    const char *path;
    uint32_t connections;
    uint32_t inflight;
    uint64_t size;
    int binary;
    uint64_t frame_size;
    double duration;
    double warmup;
    uint64_t messages;
    int threads;
    uint32_t sources;
    int server_pid;
    double ping_interval;
    uint32_t ramp;
    int verify;
    int raw;
    double settle;
    double connect_timeout;
    double close_timeout;
    int tls;
    int tls_max; /* 12 or 13, 0 for OpenSSL's default (1.3) */
    const char *tls_suites;
    int deflate;
    const char *deflate_offer;
    int deflate_level;
    const char *payload_name;
    const char *payload_file;
    int greet; /* hold: each connection echoes one message before it idles */
    /* derived */
    struct pmd_params offer;
    int client_window_bits; /* what our compressor uses: the offer's client_max_window_bits value, else 15 */
    size_t slot;            /* where the sequence number goes in an echo message */
    int family;
    struct sockaddr_storage target;
    socklen_t target_length;
    char host_header[80];
    uint32_t total_connections;
};

struct connection {
    int fd;
    SSL *ssl; /* --tls */
    uint8_t state;
    uint8_t deflate;          /* permessage-deflate was negotiated */
    uint8_t server_takeover;  /* ... and the server keeps its context between messages */
    int8_t inflate_error;     /* the compressed message being received failed to inflate */
    struct pmd_inflater *inflater; /* created with the first compressed message */
    uint8_t role;
    uint8_t started;  /* echo: its first messages are out */
    uint8_t live;     /* subscriber counted in live_subscribers */
    uint8_t corrupt;  /* the message being received differs from what was sent */
    uint8_t awaiting_greeting; /* hold --greet: open, its message sent, the echo not back yet (still pending) */
    uint32_t id;      /* global index */
    uint64_t deadline; /* of the current transient state, 0 for none */
    uint64_t began;    /* when connect() was called */
    struct ws_decoder decoder;
    uint64_t raw_offset; /* --raw: bytes of the current message received so far */
    uint8_t *out;
    size_t out_length, out_offset, out_capacity;
    char *handshake;
    uint32_t handshake_length;
    char key[25];
    uint64_t *sent_at; /* echo: send times of the messages in flight, a ring indexed by sequence number */
    uint32_t inflight;
    uint64_t next_sequence, expected_sequence;
    uint8_t head[HEAD_CAPACITY];
};

/* Written only by the owning worker (relaxed stores), read by the main thread. */
struct counters {
    uint64_t received, received_bytes, sent, pings_sent, pongs, server_pings, cycles, opened, publisher_copies,
        client_closed_tcp, greeted;
    /* errors */
    uint64_t connect_failed, handshake_failed, protocol_errors, server_closed, verify_failed, timeouts,
        unclean_closes;
    /* --deflate: data messages received compressed and not, and payload bytes as sent and inflated */
    uint64_t compressed_received, uncompressed_received, wire_bytes, inflated_bytes;
};

struct worker {
    int index;
    pthread_t thread;
    int epoll;
    int wake; /* eventfd: subscribers on other workers tell the publisher a message reached everyone */
    struct connection *connections;
    uint32_t count;
    uint32_t open_limit; /* set by main; hold mode opens in two steps */
    uint32_t next_to_open;
    uint32_t pending; /* connecting or handshaking */
    uint32_t active;  /* with a socket */
    uint32_t *idle;   /* connect mode: slots waiting for their next cycle */
    uint32_t idle_count;
    uint32_t source_cursor;
    uint64_t rng;
    uint8_t *read_buffer;
    uint8_t *outgoing;       /* the payload every message is built from, with this message's head in it */
    uint8_t *inflate_buffer; /* --deflate */
    struct pmd_deflater deflater; /* --deflate broadcast: messages are compressed as they are sent */
    uint8_t *compressed;
    size_t compressed_capacity;
    uint64_t now;
    int seen_phase;
    uint64_t stop_seen_at;
    uint64_t ping_epoch, pings_issued;
    uint64_t ready_for; /* 1 + the open_limit whose connections have all opened or failed; 0 while opening */
    struct connection *publisher;
    uint64_t published, oldest_pending;
    struct counters counters;
    struct histogram *latency;
    char first_error[200];
};

static struct options opt;
static struct worker *workers;
static int run_phase;
static int measuring;
static uint8_t *fill; /* the payload every message is built from (the head aside); never written after start */
static uint8_t **variants; /* --deflate echo: the message compressed for each value of its sequence slot */
static size_t *variant_lengths;
static uint32_t variant_count;
static char negotiated[256]; /* the first connection's TLS version and cipher and extension answer, for the record */
static char negotiated_tls[96];
static int negotiated_noted, negotiated_tls_noted;
static uint32_t live_subscribers;
static uint32_t *delivery_counts; /* broadcast: subscribers that got each message in the window */
static __thread struct worker *current;

/* ---------- small helpers ---------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bump(uint64_t *counter, uint64_t by) { __atomic_store_n(counter, *counter + by, __ATOMIC_RELAXED); }
static uint64_t peek(const uint64_t *counter) { return __atomic_load_n(counter, __ATOMIC_RELAXED); }
static int phase(void) { return __atomic_load_n(&run_phase, __ATOMIC_ACQUIRE); }
static int is_measuring(void) { return __atomic_load_n(&measuring, __ATOMIC_RELAXED); }

/* wyrand: fast, and seeded from getrandom(), so masking keys and handshake keys are unpredictable enough for a
 * load generator (RFC 6455 asks for unpredictable keys to protect intermediaries, which loopback has none of). */
static uint64_t next_random(struct worker *w)
{
    w->rng += 0xa0761d6478bd642full;
    __uint128_t product = (__uint128_t)w->rng * (w->rng ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)(product >> 64) ^ (uint64_t)product;
}

static void format_hex(uint64_t value, uint8_t *out, int width)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = width - 1; i >= 0; i--, value >>= 4)
        out[i] = (uint8_t)digits[value & 15];
}

static int parse_hex(const uint8_t *text, int width, uint64_t *value)
{
    uint64_t result = 0;
    for (int i = 0; i < width; i++) {
        uint8_t ch = text[i];
        unsigned digit;
        if (ch >= '0' && ch <= '9')
            digit = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            digit = ch - 'a' + 10u;
        else
            return 0;
        result = result << 4 | digit;
    }
    *value = result;
    return 1;
}

static void note_error(struct worker *w, uint64_t *counter, const char *format, ...)
{
    bump(counter, 1);
    if (w->first_error[0])
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(w->first_error, sizeof w->first_error, format, args);
    va_end(args);
}

static size_t echo_head_length(void) { return opt.size < ECHO_HEAD ? (size_t)opt.size : ECHO_HEAD; }

static int data_opcode(void) { return opt.binary ? WS_BINARY : WS_TEXT; }

/* --raw: messages have no frame to say how long they are, so both sides know it: pings in hold, --size otherwise. */
static uint64_t raw_message_size(void) { return opt.mode == MODE_HOLD ? RAW_PING_SIZE : opt.size; }

/* ---------- output buffer ---------- */

static uint8_t *reserve(struct connection *c, size_t count)
{
    if (c->out_offset == c->out_length)
        c->out_offset = c->out_length = 0;
    if (c->out_capacity - c->out_length >= count)
        return c->out + c->out_length;
    if (c->out_offset > 0) {
        memmove(c->out, c->out + c->out_offset, c->out_length - c->out_offset);
        c->out_length -= c->out_offset;
        c->out_offset = 0;
        if (c->out_capacity - c->out_length >= count)
            return c->out + c->out_length;
    }
    size_t capacity = c->out_capacity ? c->out_capacity : 256;
    while (capacity - c->out_length < count)
        capacity *= 2;
    uint8_t *grown = realloc(c->out, capacity);
    if (!grown) {
        fprintf(stderr, "tern-load: out of memory for a %zu-byte output buffer\n", capacity);
        exit(1);
    }
    c->out = grown;
    c->out_capacity = capacity;
    return c->out + c->out_length;
}

/* Where a message's head (sequence number, timestamps) sits: in echo, the payload's slot (0 for the fill
 * pattern); a broadcast message starts with it. */
static size_t head_offset(void) { return opt.mode == MODE_BROADCAST ? 0 : opt.slot; }

/* Appends `bytes` as one data message, masked with a fresh key per frame and split into frames of opt.frame_size
 * when that is set; `compressed` sets RSV1 on the first frame. */
static void append_frames(struct worker *w, struct connection *c, int opcode, const uint8_t *bytes, uint64_t size,
                          int compressed)
{
    uint64_t frame_size = opt.frame_size ? opt.frame_size : (size ? size : 1);
    uint64_t offset = 0;
    int first = 1;
    do {
        uint64_t length = size - offset < frame_size ? size - offset : frame_size;
        uint8_t *frame = reserve(c, WS_MAX_HEADER + length);
        uint32_t key_bits = (uint32_t)next_random(w);
        uint8_t key[4];
        memcpy(key, &key_bits, 4);
        size_t header = ws_frame_header_rsv1(frame, offset + length == size, first && compressed,
                                             first ? opcode : WS_CONTINUATION, length, key);
        ws_mask_copy(frame + header, bytes + offset, (size_t)length, key, 0);
        c->out_length += header + length;
        offset += length;
        first = 0;
    } while (offset < size);
}

/* Appends one data message of opt.size bytes: the payload with `head` in its place. With permessage-deflate it
 * is compressed first (a broadcast here; echo sends the variants compressed before the run). */
static void append_message(struct worker *w, struct connection *c, int opcode, const uint8_t *head, size_t head_length)
{
    uint64_t size = opt.size;
    memcpy(w->outgoing + head_offset(), head, head_length);
    if (opt.raw) { /* the bytes alone: no header, no mask */
        memcpy(reserve(c, size), w->outgoing, size);
        c->out_length += size;
        return;
    }
    if (c->deflate) {
        size_t length = pmd_compress(&w->deflater, w->outgoing, size, &w->compressed, &w->compressed_capacity);
        if (length == (size_t)-1) {
            fprintf(stderr, "tern-load: zlib failed to compress a message\n");
            exit(1);
        }
        append_frames(w, c, opcode, w->compressed, length, 1);
        return;
    }
    append_frames(w, c, opcode, w->outgoing, size, 0);
}

static void append_control(struct worker *w, struct connection *c, int opcode, const uint8_t *payload, size_t length)
{
    uint8_t *frame = reserve(c, WS_MAX_HEADER + length);
    uint32_t key_bits = (uint32_t)next_random(w);
    uint8_t key[4];
    memcpy(key, &key_bits, 4);
    size_t header = ws_frame_header(frame, 1, opcode, length, key);
    ws_mask_copy(frame + header, payload, length, key, 0);
    c->out_length += header + length;
}

/* A ping carrying the send time, so its answer gives the round trip: a WebSocket ping (answered by a pong) or,
 * with --raw, the 8 bytes alone (echoed back). */
static void append_ping(struct worker *w, struct connection *c)
{
    if (opt.raw) {
        memcpy(reserve(c, sizeof w->now), &w->now, sizeof w->now);
        c->out_length += sizeof w->now;
    } else {
        append_control(w, c, WS_PING, (const uint8_t *)&w->now, sizeof w->now);
    }
}

static void pong_received(struct worker *w, const uint8_t *payload)
{
    uint64_t sent;
    memcpy(&sent, payload, sizeof sent);
    bump(&w->counters.pongs, 1);
    if (is_measuring() && sent <= w->now)
        histogram_record(w->latency, w->now - sent);
}

/* ---------- connection life ---------- */

/* recv() and send(), through TLS with --tls: the same results either way (see tls.h). */
static ssize_t receive_bytes(struct connection *c, void *buffer, size_t length)
{
    return c->ssl ? tls_recv(c->ssl, buffer, length) : recv(c->fd, buffer, length, 0);
}

static ssize_t send_bytes(struct connection *c, const void *buffer, size_t length)
{
    return c->ssl ? tls_send(c->ssl, buffer, length) : send(c->fd, buffer, length, MSG_NOSIGNAL);
}

/* What a failed receive_bytes or send_bytes means, for an error message. */
static const char *io_error_text(struct connection *c, int error)
{
    return c->ssl && (error == EPROTO || error == ECONNRESET) ? tls_error() : strerror(error);
}

static void wake_publisher(void)
{
    uint64_t one = 1;
    if (write(workers[0].wake, &one, sizeof one) < 0 && errno != EAGAIN)
        perror("tern-load: eventfd write");
}

static void end_connection(struct worker *w, struct connection *c)
{
    if (c->ssl) {
        tls_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        w->active--;
    }
    if (c->inflater) {
        pmd_inflater_end(c->inflater);
        free(c->inflater);
        c->inflater = NULL;
    }
    c->deflate = c->server_takeover = 0;
    c->inflate_error = 0;
    if (c->state == STATE_CONNECTING || c->state == STATE_TLS || c->state == STATE_HANDSHAKE || c->awaiting_greeting)
        w->pending--;
    c->awaiting_greeting = 0;
    free(c->handshake);
    c->handshake = NULL;
    free(c->out);
    c->out = NULL;
    c->out_length = c->out_offset = c->out_capacity = 0;
    memset(&c->decoder, 0, sizeof c->decoder);
    c->deadline = 0;
    if (c->live) {
        c->live = 0;
        __atomic_sub_fetch(&live_subscribers, 1, __ATOMIC_ACQ_REL);
        if (opt.threads > 1)
            wake_publisher();
    }
    c->state = STATE_DONE;
    if (opt.mode == MODE_CONNECT && phase() == PHASE_RUN) {
        c->state = STATE_IDLE;
        w->idle[w->idle_count++] = (uint32_t)(c - w->connections);
    }
}

static void fail_connection(struct worker *w, struct connection *c, uint64_t *counter, const char *format, ...)
{
    bump(counter, 1);
    if (!w->first_error[0]) {
        va_list args;
        va_start(args, format);
        vsnprintf(w->first_error, sizeof w->first_error, format, args);
        va_end(args);
    }
    end_connection(w, c);
}

/* Writes what the output buffer holds; the rest waits for the edge-triggered EPOLLOUT. */
static void flush(struct worker *w, struct connection *c)
{
    while (c->out_offset < c->out_length) {
        ssize_t written = send_bytes(c, c->out + c->out_offset, c->out_length - c->out_offset);
        if (written > 0) {
            c->out_offset += (size_t)written;
        } else if (written < 0 && errno == EINTR) {
            continue;
        } else if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            int error = errno;
            if (phase() == PHASE_STOP)
                fail_connection(w, c, &w->counters.unclean_closes, "send: %s", io_error_text(c, error));
            else
                fail_connection(w, c, &w->counters.server_closed, "send: %s", io_error_text(c, error));
            return;
        }
    }
    c->out_offset = c->out_length = 0;
    /* Idle connections keep no buffer, so holding 100,000 of them costs this process little. */
    if (opt.mode == MODE_HOLD || opt.mode == MODE_CONNECT) {
        free(c->out);
        c->out = NULL;
        c->out_capacity = 0;
    }
}

static void send_close(struct worker *w, struct connection *c)
{
    c->deadline = w->now + (uint64_t)(opt.close_timeout * 1e9);
    if (opt.raw) {
        /* Half-close, as the close frame would: the server answers by closing TCP. Unsent bytes are dropped. */
        c->out_offset = c->out_length = 0;
        shutdown(c->fd, SHUT_WR);
        c->state = STATE_AWAIT_EOF;
        return;
    }
    static const uint8_t normal_closure[2] = {0x03, 0xE8}; /* 1000 */
    append_control(w, c, WS_CLOSE, normal_closure, sizeof normal_closure);
    c->state = STATE_CLOSING;
}

static void open_connection(struct worker *w, struct connection *c)
{
    c->state = STATE_CONNECTING;
    c->began = w->now;
    c->deadline = w->now + (uint64_t)(opt.connect_timeout * 1e9);
    w->pending++;
    int fd = socket(opt.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail_connection(w, c, &w->counters.connect_failed, "socket: %s", strerror(errno));
        return;
    }
    c->fd = fd;
    w->active++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt.family == AF_INET && opt.sources > 1) {
        /* Without IP_BIND_ADDRESS_NO_PORT, bind() would pick the port before the destination is known and
         * each source address would give only one port range in total instead of one per destination. */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        uint32_t source = opt.mode == MODE_CONNECT ? w->source_cursor++ * (uint32_t)opt.threads + (uint32_t)w->index
                                                    : c->id;
        struct sockaddr_in local = {.sin_family = AF_INET};
        local.sin_addr.s_addr = htonl(0x7F000001u + source % opt.sources);
        if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
            fail_connection(w, c, &w->counters.connect_failed, "bind 127.0.0.%u: %s", 1 + source % opt.sources,
                            strerror(errno));
            return;
        }
    }
    if (connect(fd, (struct sockaddr *)&opt.target, opt.target_length) < 0 && errno != EINPROGRESS) {
        fail_connection(w, c, &w->counters.connect_failed, "connect: %s", strerror(errno));
        return;
    }
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->epoll, EPOLL_CTL_ADD, fd, &event) < 0) {
        fail_connection(w, c, &w->counters.connect_failed, "epoll_ctl: %s", strerror(errno));
        return;
    }
}

static void send_handshake(struct worker *w, struct connection *c)
{
    if (opt.raw) { /* nothing to send: wait for the server's greeting byte */
        c->state = STATE_HANDSHAKE;
        return;
    }
    uint8_t raw_key[16];
    uint64_t a = next_random(w), b = next_random(w);
    memcpy(raw_key, &a, 8);
    memcpy(raw_key + 8, &b, 8);
    base64_encode(raw_key, sizeof raw_key, c->key);
    char request[1024];
    int length = snprintf(request, sizeof request,
                          "GET %s HTTP/1.1\r\n"
                          "Host: %s\r\n"
                          "Upgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n"
                          "%s%s%s"
                          "\r\n",
                          opt.path, opt.host_header, c->key, opt.deflate ? "Sec-WebSocket-Extensions: " : "",
                          opt.deflate ? opt.deflate_offer : "", opt.deflate ? "\r\n" : "");
    memcpy(reserve(c, (size_t)length), request, (size_t)length);
    c->out_length += (size_t)length;
    c->state = STATE_HANDSHAKE;
    c->handshake = malloc(HANDSHAKE_BUFFER_SIZE);
    c->handshake_length = 0;
    if (!c->handshake) {
        fprintf(stderr, "tern-load: out of memory\n");
        exit(1);
    }
    flush(w, c);
}

/* ---------- echo ---------- */

/* Appends the echo message with this sequence number (compressed when negotiated: the variant for it). */
static void append_sequenced(struct worker *w, struct connection *c, uint64_t sequence)
{
    if (c->deflate) {
        uint32_t variant = (uint32_t)(sequence % variant_count);
        append_frames(w, c, data_opcode(), variants[variant], variant_lengths[variant], 1);
    } else {
        uint8_t head[ECHO_HEAD];
        size_t head_length = echo_head_length();
        format_hex(sequence, head, (int)head_length);
        append_message(w, c, data_opcode(), head, head_length);
    }
}

/* Whether an echo is the message with this sequence number: type, length, head and (with --verify) content. */
static int echo_matches(struct connection *c, uint64_t sequence, int opcode, uint64_t length, int corrupt,
                        const char **why)
{
    size_t head_length = echo_head_length();
    uint8_t expected_head[ECHO_HEAD];
    format_hex(c->deflate ? sequence % variant_count : sequence, expected_head, (int)head_length);
    int head_differs = memcmp(c->head, expected_head, head_length) != 0;
    *why = head_differs ? ", wrong sequence number" : corrupt ? ", payload differs" : "";
    return opcode == data_opcode() && length == opt.size && !corrupt && !head_differs;
}

static void echo_send(struct worker *w, struct connection *c)
{
    uint64_t sequence = c->next_sequence++;
    c->sent_at[sequence % opt.inflight] = w->now;
    c->inflight++;
    append_sequenced(w, c, sequence);
    if (is_measuring())
        bump(&w->counters.sent, 1);
}

static void echo_start(struct worker *w, struct connection *c)
{
    c->started = 1;
    for (uint32_t i = 0; i < opt.inflight; i++)
        echo_send(w, c);
}

static void echo_received(struct worker *w, struct connection *c, int opcode, uint64_t length, int corrupt)
{
    if (c->inflight == 0) {
        note_error(w, &w->counters.verify_failed, "connection %u: a message arrived that was never sent", c->id);
        return;
    }
    uint64_t sequence = c->expected_sequence++;
    uint64_t sent = c->sent_at[sequence % opt.inflight];
    c->inflight--;
    const char *why;
    if (!echo_matches(c, sequence, opcode, length, corrupt, &why))
        note_error(w, &w->counters.verify_failed, "connection %u message %llu: echo differs (opcode %d, %llu bytes%s)",
                   c->id, (unsigned long long)sequence, opcode, (unsigned long long)length, why);
    if (is_measuring()) {
        bump(&w->counters.received, 1);
        bump(&w->counters.received_bytes, length);
        histogram_record(w->latency, w->now - sent);
    }
    if (phase() == PHASE_RUN)
        echo_send(w, c);
}

/* ---------- hold --greet ---------- */

/* The greeting's echo came back: the connection counts as open now, and idles from here on. */
static void greeting_received(struct worker *w, struct connection *c, int opcode, uint64_t length, int corrupt)
{
    const char *why;
    if (!c->awaiting_greeting) {
        note_error(w, &w->counters.verify_failed, "connection %u: unexpected data message of %llu bytes", c->id,
                   (unsigned long long)length);
        return;
    }
    if (!echo_matches(c, 0, opcode, length, corrupt, &why))
        note_error(w, &w->counters.verify_failed, "connection %u: the greeting's echo differs (opcode %d, %llu bytes%s)",
                   c->id, opcode, (unsigned long long)length, why);
    c->awaiting_greeting = 0;
    c->deadline = 0;
    w->pending--;
    bump(&w->counters.greeted, 1);
}

/* ---------- broadcast ---------- */

static void count_delivery(struct worker *w, uint64_t sequence)
{
    uint32_t reached = __atomic_add_fetch(&delivery_counts[sequence % opt.inflight], 1, __ATOMIC_ACQ_REL);
    if (opt.threads > 1 && w->index != 0 && reached >= __atomic_load_n(&live_subscribers, __ATOMIC_ACQUIRE))
        wake_publisher();
}

/* The publisher keeps at most opt.inflight messages that have not yet reached every live subscriber, so the
 * server is never asked to queue without bound and the rate measured is the rate of full deliveries. */
static void pump_publisher(struct worker *w)
{
    struct connection *p = w->publisher;
    if (!p || p->state != STATE_OPEN || phase() != PHASE_RUN)
        return;
    uint32_t live = __atomic_load_n(&live_subscribers, __ATOMIC_ACQUIRE);
    if (live == 0)
        return;
    while (w->oldest_pending < w->published) {
        uint32_t *slot = &delivery_counts[w->oldest_pending % opt.inflight];
        if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) < live)
            break;
        __atomic_store_n(slot, 0, __ATOMIC_RELEASE);
        w->oldest_pending++;
    }
    if (w->published - w->oldest_pending >= opt.inflight)
        return;
    uint64_t now = now_ns();
    while (w->published - w->oldest_pending < opt.inflight) {
        uint8_t head[BROADCAST_HEAD];
        format_hex(w->published, head, 16);
        format_hex(now, head + 16, 16);
        append_message(w, p, data_opcode(), head, BROADCAST_HEAD);
        w->published++;
        if (is_measuring())
            bump(&w->counters.sent, 1);
    }
    flush(w, p);
}

static void broadcast_received(struct worker *w, struct connection *c, int opcode, uint64_t length, int corrupt)
{
    uint64_t sequence, sent;
    if (length < BROADCAST_HEAD || !parse_hex(c->head, 16, &sequence) || !parse_hex(c->head + 16, 16, &sent)) {
        note_error(w, &w->counters.verify_failed, "connection %u: a broadcast message without its header (%llu bytes)",
                   c->id, (unsigned long long)length);
        return;
    }
    if (sequence != c->expected_sequence || opcode != data_opcode() || length != opt.size || corrupt)
        note_error(w, &w->counters.verify_failed,
                   "connection %u: got message %llu (opcode %d, %llu bytes%s) when %llu was next", c->id,
                   (unsigned long long)sequence, opcode, (unsigned long long)length,
                   corrupt ? ", payload differs" : "", (unsigned long long)c->expected_sequence);
    c->expected_sequence = sequence + 1;
    if (c->role == ROLE_PUBLISHER) {
        bump(&w->counters.publisher_copies, 1);
        return;
    }
    count_delivery(w, sequence);
    if (is_measuring()) {
        bump(&w->counters.received, 1);
        bump(&w->counters.received_bytes, length);
        histogram_record(w->latency, w->now > sent ? w->now - sent : 0);
    }
}

/* ---------- decoder hooks ---------- */

enum { HOOK_CLOSE_RECEIVED = 1, HOOK_CONNECTION_ENDED = 2 };

/* Compares received bytes [from, to) of a message, which start at `offset`, with the fill pattern. */
static int matches_fill(const uint8_t *bytes, uint64_t offset, uint64_t from, uint64_t to)
{
    return from >= to || memcmp(bytes + (from - offset), fill + from, (size_t)(to - from)) == 0;
}

/* A piece of a message's payload as the application sees it (inflated, when it came compressed). */
static void on_payload(void *context, const uint8_t *bytes, size_t count, uint64_t offset)
{
    struct connection *c = context;
    uint64_t head_at = head_offset();
    if (offset + count > head_at && offset < head_at + HEAD_CAPACITY) {
        uint64_t from = offset > head_at ? offset : head_at;
        uint64_t to = offset + count < head_at + HEAD_CAPACITY ? offset + count : head_at + HEAD_CAPACITY;
        memcpy(c->head + (from - head_at), bytes + (from - offset), (size_t)(to - from));
    }
    if (opt.verify && !c->corrupt) {
        uint64_t head_end = head_at + (opt.mode == MODE_BROADCAST ? BROADCAST_HEAD : echo_head_length());
        uint64_t end = offset + count < opt.size ? offset + count : opt.size; /* longer is caught by length */
        uint64_t before_head = end < head_at ? end : head_at;
        uint64_t after_head = offset > head_end ? offset : head_end;
        if (!matches_fill(bytes, offset, offset, before_head) || !matches_fill(bytes, offset, after_head, end))
            c->corrupt = 1;
    }
}

/* Messages inflate into at most what was sent, plus one byte to tell a longer echo from an exact one. */
static uint64_t inflate_limit(void)
{
    return opt.mode == MODE_ECHO || opt.mode == MODE_BROADCAST || opt.greet ? opt.size + 1 : 125;
}

static void inflate_piece(struct connection *c, const uint8_t *bytes, size_t count, int last)
{
    struct worker *w = current;
    if (c->inflate_error)
        return;
    if (!c->inflater) {
        c->inflater = malloc(sizeof *c->inflater);
        if (!c->inflater || pmd_inflater_init(c->inflater) != 0) {
            fprintf(stderr, "tern-load: out of memory for an inflater\n");
            exit(1);
        }
    }
    c->inflate_error = (int8_t)pmd_inflate(c->inflater, bytes, count, last, !c->server_takeover, inflate_limit(),
                                           w->inflate_buffer, INFLATE_BUFFER_SIZE, on_payload, c);
}

static void on_data(void *context, const uint8_t *bytes, size_t count, uint64_t offset)
{
    struct connection *c = context;
    if (c->decoder.message_compressed)
        inflate_piece(c, bytes, count, 0);
    else
        on_payload(c, bytes, count, offset);
}

static int on_message(void *context, int opcode, uint64_t length, int compressed)
{
    struct connection *c = context;
    struct worker *w = current;
    if (compressed) {
        inflate_piece(c, NULL, 0, 1);
        if (c->inflate_error) {
            int error = c->inflate_error;
            c->inflate_error = 0;
            c->corrupt = 0;
            fail_connection(w, c, &w->counters.protocol_errors, "connection %u: %s", c->id, pmd_error_text(error));
            return HOOK_CONNECTION_ENDED;
        }
        if (is_measuring() || c->awaiting_greeting) {
            bump(&w->counters.compressed_received, 1);
            bump(&w->counters.wire_bytes, length);
            bump(&w->counters.inflated_bytes, c->inflater->length);
        }
        length = c->inflater->length;
    } else if ((is_measuring() || c->awaiting_greeting) && opt.deflate) {
        bump(&w->counters.uncompressed_received, 1);
        bump(&w->counters.wire_bytes, length);
        bump(&w->counters.inflated_bytes, length);
    }
    int corrupt = c->corrupt;
    c->corrupt = 0;
    if (c->state != STATE_OPEN)
        return 0; /* in flight when we started closing */
    switch (c->role) {
    case ROLE_ECHO: echo_received(w, c, opcode, length, corrupt); break;
    case ROLE_PUBLISHER:
    case ROLE_SUBSCRIBER: broadcast_received(w, c, opcode, length, corrupt); break;
    case ROLE_HOLD:
        if (opt.greet) {
            greeting_received(w, c, opcode, length, corrupt);
            break;
        }
        /* fall through */
    default:
        note_error(w, &w->counters.verify_failed, "connection %u: unexpected data message of %llu bytes", c->id,
                   (unsigned long long)length);
    }
    return 0;
}

static int valid_close_code(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static int on_control(void *context, int opcode, const uint8_t *payload, size_t length)
{
    struct connection *c = context;
    struct worker *w = current;
    if (opcode == WS_PING) {
        bump(&w->counters.server_pings, 1);
        if (c->state == STATE_OPEN)
            append_control(w, c, WS_PONG, payload, length);
        return 0;
    }
    if (opcode == WS_PONG) {
        if (length == sizeof(uint64_t))
            pong_received(w, payload);
        return 0; /* unsolicited pongs are allowed and ignored */
    }

    unsigned code = length >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 1005;
    if (length == 1 || (length >= 2 && !valid_close_code(code))) {
        fail_connection(w, c, &w->counters.protocol_errors, "connection %u: invalid close frame (%zu bytes, code %u)",
                        c->id, length, code);
        return HOOK_CONNECTION_ENDED;
    }
    if (c->state == STATE_OPEN) {
        /* The server started the close. During the run that is a failure of the run; during stop it is not. */
        if (phase() != PHASE_STOP)
            note_error(w, &w->counters.server_closed, "connection %u: server closed with code %u \"%.*s\"", c->id,
                       code, (int)(length > 2 ? length - 2 : 0), (const char *)payload + 2);
        append_control(w, c, WS_CLOSE, payload, length >= 2 ? 2 : 0);
    }
    c->state = STATE_AWAIT_EOF;
    c->deadline = w->now + (uint64_t)(opt.close_timeout * 1e9);
    return HOOK_CLOSE_RECEIVED;
}

static const struct ws_hooks hooks = {on_data, on_message, on_control};

/* ---------- receiving ---------- */

static void on_open(struct worker *w, struct connection *c)
{
    c->deadline = 0;
    bump(&w->counters.opened, 1);
    switch (c->role) {
    case ROLE_ECHO:
        if (phase() == PHASE_RUN)
            echo_start(w, c);
        break;
    case ROLE_SUBSCRIBER:
        c->live = 1;
        __atomic_add_fetch(&live_subscribers, 1, __ATOMIC_ACQ_REL);
        break;
    case ROLE_CYCLE:
        if (is_measuring())
            histogram_record(w->latency, w->now - c->began);
        send_close(w, c);
        break;
    case ROLE_HOLD:
        if (opt.greet) { /* still pending until the echo is back; bounded like the handshake */
            c->awaiting_greeting = 1;
            c->deadline = w->now + (uint64_t)(opt.connect_timeout * 1e9);
            append_sequenced(w, c, 0);
        }
        break;
    default: break;
    }
}

static int header_is(const char *name, size_t name_length, const char *expected)
{
    return name_length == strlen(expected) && strncasecmp(name, expected, name_length) == 0;
}

/* Checks the server's answer to our permessage-deflate offer; returns NULL or why the connection must fail. */
static const char *check_extension_answer(const char *value, size_t length, struct pmd_params *answer)
{
    const char *problem = pmd_parse(value, length, answer);
    if (!problem)
        problem = pmd_check_answer(&opt.offer, answer);
    if (!problem && pmd_client_window_bits(answer) < opt.client_window_bits)
        problem = "the server limits our window (client_max_window_bits) below the one our messages were compressed "
                  "with: offer client_max_window_bits=N with that N";
    return problem;
}

/* Notes the first connection's negotiated extension, for the summary. */
static void note_negotiated(const char *value, size_t length)
{
    if (__atomic_exchange_n(&negotiated_noted, 1, __ATOMIC_ACQ_REL))
        return;
    snprintf(negotiated, sizeof negotiated, "%.*s", (int)length, value);
}

/* Checks a 101 response the way RFC 6455 section 4.1 asks a client to (and RFC 7692 section 7.1 with --deflate);
 * returns NULL or why it failed. */
static const char *check_handshake_response(const char *response, size_t length, const char *key,
                                            struct pmd_params *answer, int *extension)
{
    *extension = 0;
    if (length < 12 || memcmp(response, "HTTP/1.1 101", 12) != 0)
        return "status is not 101";
    char expected_accept[29];
    websocket_accept(key, expected_accept);
    int upgrade = 0, connection = 0, accept = 0;
    const char *line = memchr(response, '\n', length);
    const char *end = response + length;
    while (line && ++line < end) {
        const char *line_end = memchr(line, '\n', (size_t)(end - line));
        if (!line_end)
            break;
        size_t line_length = (size_t)(line_end - line);
        if (line_length > 0 && line[line_length - 1] == '\r')
            line_length--;
        if (line_length == 0)
            break;
        const char *colon = memchr(line, ':', line_length);
        if (!colon)
            return "header line without a colon";
        size_t name_length = (size_t)(colon - line);
        const char *value = colon + 1;
        const char *value_end = line + line_length;
        while (value < value_end && (*value == ' ' || *value == '\t'))
            value++;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        size_t value_length = (size_t)(value_end - value);
        if (header_is(line, name_length, "upgrade")) {
            upgrade = value_length == 9 && strncasecmp(value, "websocket", 9) == 0;
        } else if (header_is(line, name_length, "connection")) {
            for (const char *token = value; token < value_end;) {
                const char *comma = memchr(token, ',', (size_t)(value_end - token));
                const char *token_end = comma ? comma : value_end;
                while (token < token_end && (*token == ' ' || *token == '\t'))
                    token++;
                const char *trimmed_end = token_end;
                while (trimmed_end > token && (trimmed_end[-1] == ' ' || trimmed_end[-1] == '\t'))
                    trimmed_end--;
                if (trimmed_end - token == 7 && strncasecmp(token, "upgrade", 7) == 0)
                    connection = 1;
                token = comma ? comma + 1 : value_end;
            }
        } else if (header_is(line, name_length, "sec-websocket-accept")) {
            accept = value_length == 28 && memcmp(value, expected_accept, 28) == 0;
            if (!accept)
                return "Sec-WebSocket-Accept does not match the key";
        } else if (header_is(line, name_length, "sec-websocket-extensions")) {
            if (!opt.deflate)
                return "server chose an extension that was not offered";
            if (*extension)
                return "more than one Sec-WebSocket-Extensions header";
            const char *problem = check_extension_answer(value, value_length, answer);
            if (problem)
                return problem;
            *extension = 1;
            note_negotiated(value, value_length);
        } else if (header_is(line, name_length, "sec-websocket-protocol")) {
            return "server chose a subprotocol that was not offered";
        }
        line = line_end;
    }
    if (!upgrade)
        return "no Upgrade: websocket";
    if (!connection)
        return "no Connection: Upgrade";
    if (!accept)
        return "no Sec-WebSocket-Accept";
    if (opt.deflate && !*extension)
        return "the server did not accept permessage-deflate";
    return NULL;
}

static int consume(struct worker *w, struct connection *c, const uint8_t *bytes, size_t count);

static int consume_handshake(struct worker *w, struct connection *c, const uint8_t *bytes, size_t count)
{
    if (opt.raw) {
        if (bytes[0] != RAW_ACCEPTED_MARK) {
            fail_connection(w, c, &w->counters.handshake_failed, "raw: the first byte is 0x%02x, not '%c'", bytes[0],
                            RAW_ACCEPTED_MARK);
            return 1;
        }
        w->pending--;
        c->state = STATE_OPEN;
        on_open(w, c);
        return count > 1 ? consume(w, c, bytes + 1, count - 1) : c->fd < 0;
    }
    if (count > HANDSHAKE_BUFFER_SIZE - c->handshake_length) {
        fail_connection(w, c, &w->counters.handshake_failed, "handshake response longer than %d bytes",
                        HANDSHAKE_BUFFER_SIZE);
        return 1;
    }
    size_t searched_from = c->handshake_length > 3 ? c->handshake_length - 3 : 0;
    memcpy(c->handshake + c->handshake_length, bytes, count);
    c->handshake_length += (uint32_t)count;
    const char *end_of_headers =
        memmem(c->handshake + searched_from, c->handshake_length - searched_from, "\r\n\r\n", 4);
    if (!end_of_headers)
        return 0;
    size_t header_length = (size_t)(end_of_headers + 4 - c->handshake);
    struct pmd_params answer;
    int extension;
    const char *problem = check_handshake_response(c->handshake, header_length, c->key, &answer, &extension);
    if (problem) {
        const char *line_end = memchr(c->handshake, '\r', header_length);
        fail_connection(w, c, &w->counters.handshake_failed, "handshake: %s (%.*s)", problem,
                        (int)(line_end ? line_end - c->handshake : 0), c->handshake);
        return 1;
    }
    if (extension) {
        c->deflate = 1;
        c->server_takeover = !answer.server_no_context_takeover;
        c->decoder.compression_negotiated = 1;
    }
    if (!opt.greet)
        w->pending--; /* else once the greeting's echo is back */
    c->state = STATE_OPEN;
    on_open(w, c);
    char *buffer = c->handshake;
    c->handshake = NULL;
    int ended = 0;
    if (c->handshake_length > header_length) /* frames coalesced with the 101 response */
        ended = consume(w, c, (const uint8_t *)buffer + header_length, c->handshake_length - header_length);
    free(buffer);
    return ended;
}

/* --raw: cuts the byte stream into messages of the length both sides know, through the same hooks as frames. */
static int raw_decode(struct worker *w, struct connection *c, const uint8_t *bytes, size_t count)
{
    uint64_t size = raw_message_size();
    while (count > 0) {
        size_t take = size - c->raw_offset < count ? (size_t)(size - c->raw_offset) : count;
        on_data(c, bytes, take, c->raw_offset);
        c->raw_offset += take;
        bytes += take;
        count -= take;
        if (c->raw_offset < size)
            break;
        c->raw_offset = 0;
        if (c->role != ROLE_HOLD)
            on_message(c, data_opcode(), size, 0); /* checks the state itself */
        else if (c->state == STATE_OPEN)
            pong_received(w, c->head);
        if (c->fd < 0)
            return 1;
    }
    return 0;
}

/* Returns 1 when the connection ended. */
static int consume(struct worker *w, struct connection *c, const uint8_t *bytes, size_t count)
{
    if (c->state == STATE_HANDSHAKE)
        return consume_handshake(w, c, bytes, count);
    if (c->state == STATE_AWAIT_EOF)
        return 0; /* nothing may follow the close frame */
    if (opt.raw)
        return raw_decode(w, c, bytes, count);
    int result = ws_decode(&c->decoder, bytes, count, &hooks, c);
    if (result < 0) {
        fail_connection(w, c, &w->counters.protocol_errors, "connection %u: %s", c->id, ws_decode_error_text(result));
        return 1;
    }
    return c->fd < 0;
}

static void on_end_of_stream(struct worker *w, struct connection *c)
{
    switch (c->state) {
    case STATE_HANDSHAKE:
        fail_connection(w, c, &w->counters.handshake_failed, "server closed during the handshake");
        return;
    case STATE_OPEN:
        if (phase() == PHASE_STOP)
            fail_connection(w, c, &w->counters.unclean_closes, "server closed TCP without a close frame");
        else
            fail_connection(w, c, &w->counters.server_closed, "connection %u: server closed TCP without a close frame",
                            c->id);
        return;
    case STATE_CLOSING:
        fail_connection(w, c, &w->counters.unclean_closes, "server closed TCP without answering our close frame");
        return;
    case STATE_AWAIT_EOF:
        if (c->role == ROLE_CYCLE && is_measuring())
            bump(&w->counters.cycles, 1);
        end_connection(w, c);
        return;
    default: end_connection(w, c);
    }
}

/* Returns 1 when the connection ended. */
static int receive(struct worker *w, struct connection *c, int drain)
{
    for (;;) {
        ssize_t count = receive_bytes(c, w->read_buffer, READ_BUFFER_SIZE);
        if (count > 0) {
            w->now = now_ns();
            if (consume(w, c, w->read_buffer, (size_t)count))
                return 1;
            /* A short read emptied the socket: with edge triggering, anything arriving later raises a new
             * edge, so the extra recv() that would only say EAGAIN is saved. Not so with TLS, which returns
             * a record at a time and may hold more already read from the socket. */
            if (count < READ_BUFFER_SIZE && !drain && !c->ssl)
                return 0;
        } else if (count == 0) {
            on_end_of_stream(w, c);
            return 1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        } else {
            int error = errno;
            if (c->state == STATE_AWAIT_EOF) {
                end_connection(w, c);
            } else {
                fail_connection(w, c, phase() == PHASE_STOP ? &w->counters.unclean_closes : &w->counters.server_closed,
                                "connection %u: recv: %s", c->id, io_error_text(c, error));
            }
            return 1;
        }
    }
}

static void handle_event(struct worker *w, struct epoll_event *event)
{
    if (!event->data.ptr) {
        uint64_t ignored;
        if (read(w->wake, &ignored, sizeof ignored) < 0 && errno != EAGAIN)
            perror("tern-load: eventfd read");
        return;
    }
    struct connection *c = event->data.ptr;
    uint32_t events = event->events;
    if (c->fd < 0)
        return;
    if (c->state == STATE_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error || (events & (EPOLLERR | EPOLLHUP))) {
            fail_connection(w, c, &w->counters.connect_failed, "connect: %s", strerror(error ? error : ECONNRESET));
            return;
        }
        if (opt.tls) {
            c->ssl = tls_attach(c->fd);
            if (!c->ssl) {
                fail_connection(w, c, &w->counters.connect_failed, "cannot create a TLS session");
                return;
            }
            c->state = STATE_TLS;
        } else {
            send_handshake(w, c);
            if (c->fd < 0)
                return;
        }
    }
    if (c->state == STATE_TLS) {
        int done = tls_handshake(c->ssl);
        if (done < 0) {
            fail_connection(w, c, &w->counters.handshake_failed, "connection %u: %s", c->id, tls_error());
            return;
        }
        if (!done)
            return; /* the next edge brings what it waits for */
        if (!__atomic_exchange_n(&negotiated_tls_noted, 1, __ATOMIC_ACQ_REL))
            tls_describe(c->ssl, negotiated_tls, sizeof negotiated_tls);
        send_handshake(w, c);
        if (c->fd < 0)
            return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (receive(w, c, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0))
            return;
    }
    if (c->out_offset < c->out_length)
        flush(w, c);
}

/* ---------- the worker loop ---------- */

static void enter_phase(struct worker *w, int new_phase)
{
    if (new_phase == PHASE_RUN) {
        w->ping_epoch = w->now;
        for (uint32_t i = 0; i < w->count; i++) {
            struct connection *c = &w->connections[i];
            if (c->role == ROLE_ECHO && c->state == STATE_OPEN && !c->started) {
                echo_start(w, c);
                flush(w, c);
            }
        }
    } else if (new_phase == PHASE_STOP) {
        w->stop_seen_at = w->now;
        for (uint32_t i = 0; i < w->count; i++) {
            struct connection *c = &w->connections[i];
            if (c->state == STATE_OPEN) {
                send_close(w, c);
                flush(w, c);
            } else if (c->state == STATE_CONNECTING || c->state == STATE_TLS || c->state == STATE_HANDSHAKE) {
                end_connection(w, c);
            } else if (c->state == STATE_IDLE) {
                c->state = STATE_DONE;
            }
        }
        w->idle_count = 0;
    }
}

static void open_more(struct worker *w, int current_phase)
{
    if (opt.mode == MODE_CONNECT) {
        if (current_phase != PHASE_RUN)
            return;
        /* Bounded by the slots idle now: a slot whose socket() or connect() fails at once is idle again. */
        for (uint32_t attempts = w->idle_count; attempts > 0 && w->idle_count > 0 && w->pending < opt.ramp; attempts--)
            open_connection(w, &w->connections[w->idle[--w->idle_count]]);
        return;
    }
    if (current_phase == PHASE_STOP)
        return;
    uint32_t requested = __atomic_load_n(&w->open_limit, __ATOMIC_ACQUIRE);
    uint32_t limit = requested < w->count ? requested : w->count;
    while (w->next_to_open < limit && w->pending < opt.ramp)
        open_connection(w, &w->connections[w->next_to_open++]);
    uint64_t ready_for = w->next_to_open >= limit && w->pending == 0 ? (uint64_t)requested + 1 : 0;
    __atomic_store_n(&w->ready_for, ready_for, __ATOMIC_RELEASE);
}

static void send_due_pings(struct worker *w)
{
    if (opt.ping_interval <= 0 || w->count == 0)
        return;
    double elapsed = (double)(w->now - w->ping_epoch) / 1e9;
    uint64_t due = (uint64_t)(elapsed / opt.ping_interval * w->count);
    while (w->pings_issued < due) {
        struct connection *c = &w->connections[w->pings_issued++ % w->count];
        if (c->state != STATE_OPEN)
            continue;
        append_ping(w, c);
        bump(&w->counters.pings_sent, 1);
        flush(w, c);
    }
}

static void expire(struct worker *w)
{
    for (uint32_t i = 0; i < w->count; i++) {
        struct connection *c = &w->connections[i];
        if (c->fd < 0 || !c->deadline || w->now < c->deadline)
            continue;
        switch (c->state) {
        case STATE_CONNECTING:
            fail_connection(w, c, &w->counters.timeouts, "connect timed out after %g s", opt.connect_timeout);
            break;
        case STATE_TLS:
            fail_connection(w, c, &w->counters.timeouts, "TLS handshake not done within %g s", opt.connect_timeout);
            break;
        case STATE_HANDSHAKE:
            fail_connection(w, c, &w->counters.timeouts, "no handshake response within %g s", opt.connect_timeout);
            break;
        case STATE_CLOSING:
            fail_connection(w, c, &w->counters.timeouts, "no close frame from the server within %g s",
                            opt.close_timeout);
            break;
        case STATE_OPEN: /* only a greeting has a deadline while open */
            fail_connection(w, c, &w->counters.timeouts, "no echo of the greeting within %g s", opt.connect_timeout);
            break;
        case STATE_AWAIT_EOF:
            /* RFC 6455 7.1.1 lets the client close TCP itself when the server takes too long. */
            bump(&w->counters.client_closed_tcp, 1);
            if (c->role == ROLE_CYCLE && is_measuring())
                bump(&w->counters.cycles, 1);
            end_connection(w, c);
            break;
        default: break;
        }
    }
}

static void *worker_main(void *argument)
{
    struct worker *w = argument;
    current = w;
    struct epoll_event events[512];
    uint64_t last_scan = 0;
    for (;;) {
        w->now = now_ns();
        int current_phase = phase();
        if (current_phase != w->seen_phase) {
            enter_phase(w, current_phase);
            w->seen_phase = current_phase;
        }
        open_more(w, current_phase);
        if (current_phase == PHASE_RUN && opt.mode == MODE_HOLD)
            send_due_pings(w);
        if (w->now - last_scan >= SCAN_INTERVAL_NS) {
            expire(w);
            last_scan = w->now;
        }
        if (current_phase == PHASE_STOP &&
            (w->active == 0 || w->now - w->stop_seen_at > (uint64_t)((opt.close_timeout + 1) * 1e9)))
            break;
        int count = epoll_wait(w->epoll, events, 512, 10);
        if (count < 0 && errno != EINTR) {
            perror("tern-load: epoll_wait");
            exit(1);
        }
        w->now = now_ns();
        for (int i = 0; i < count; i++)
            handle_event(w, &events[i]);
        if (w->publisher)
            pump_publisher(w);
    }
    for (uint32_t i = 0; i < w->count; i++) {
        struct connection *c = &w->connections[i];
        if (c->fd >= 0)
            fail_connection(w, c, &w->counters.unclean_closes, "connection %u still open at exit (state %d)", c->id,
                            c->state);
    }
    return NULL;
}

/* ---------- options ---------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tern-load --mode echo|broadcast|connect|hold --port P [options]\n"
            "\n"
            "  --host H            target: a loopback address only (127.x.x.x or ::1; default 127.0.0.1)\n"
            "  --port P            target port (required)\n"
            "  --path PATH         request path (default /echo; /broadcast in broadcast mode)\n"
            "  --conns N           echo: connections (100); broadcast: subscribers (1000);\n"
            "                      connect: concurrent cycles (50); hold: idle connections (10000)\n"
            "  --inflight P        echo: messages in flight per connection (1);\n"
            "                      broadcast: messages not yet delivered to every subscriber (16)\n"
            "  --size S            payload bytes, K/M/G suffixes allowed (echo 32, broadcast 64)\n"
            "  --binary | --text   message type (text)\n"
            "  --frame-size F      split each message into frames of F bytes (0 = one frame)\n"
            "  --duration D        seconds measured (10)\n"
            "  --warmup W          seconds run before measuring (1; hold 0)\n"
            "  --messages M        stop once M messages (echo, broadcast deliveries) or cycles were measured\n"
            "  --threads T         worker threads, each with its own epoll loop (1)\n"
            "  --sources K         spread connections over source addresses 127.0.0.1..127.0.0.K\n"
            "                      (default: enough for 20,000 connections each; connect mode 8)\n"
            "  --server-pid PID    read the server's CPU time and memory from /proc/PID\n"
            "  --ping-interval S   hold: seconds between pings on each connection (5; 0 = none)\n"
            "  --settle S          hold: seconds to wait before reading the server's memory (2)\n"
            "  --greet             hold: each connection echoes one message (--size or --payload, compressed with\n"
            "                      --deflate) before it idles, so the memory read is that of connections that\n"
            "                      have used TLS and compression, not only negotiated them\n"
            "  --ramp R            connection attempts in progress at once per thread (256)\n"
            "  --verify            compare every payload byte echoed or delivered with what was sent\n"
            "  --raw               plain TCP, for bench/peers/raw-tcp: no handshake (the server's greeting byte\n"
            "                      stands for it), messages are their --size bytes alone, pings in hold are 8\n"
            "                      bytes echoed back, a half-close stands for the close handshake\n"
            "  --tls               wss: TLS (1.2 or 1.3, OpenSSL's choice) over every connection; the server's\n"
            "                      certificate is not checked (loopback, throwaway certificates)\n"
            "  --tls-max V         the highest TLS version to offer: 1.2 or 1.3\n"
            "  --tls-suites LIST   the TLS 1.3 cipher suites to offer, in order (default, Chrome's:\n"
            "                      " TLS_DEFAULT_SUITES ")\n"
            "  --deflate           offer permessage-deflate (RFC 7692) and fail a connection whose server does not\n"
            "                      accept it; messages sent are compressed (echo: before the run, in up to 1,024\n"
            "                      variants of the sequence number), messages received compressed are inflated\n"
            "  --deflate-offer X   the Sec-WebSocket-Extensions offer (implies --deflate; default\n"
            "                      \"" PMD_DEFAULT_OFFER "\")\n"
            "  --deflate-level L   zlib level of what we send (0-9, default 6)\n"
            "  --payload NAME      echo realistic JSON instead of the fill pattern (sets --size, text): chat300, one\n"
            "                      Tern.Chat message event (~300 B); chat16k, a history page of them (~16 KiB)\n"
            "  --payload-file F    echo the bytes of F (the sequence number goes over its first run of 16 '0's)\n"
            "  --connect-timeout S (10)   --close-timeout S (2)\n"
            "\n"
            "Prints a human summary and a final line `RESULT key=value ...` for scripts.\n"
            "Exits 0 when the run had no errors, 2 when it had some, 1 on bad usage.\n");
}

static uint64_t parse_size(const char *text)
{
    char *end;
    double value = strtod(text, &end);
    uint64_t scale = 1;
    if (*end == 'k' || *end == 'K')
        scale = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        scale = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        scale = 1024ull * 1024 * 1024, end++;
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (end == text || *end || value < 0) {
        fprintf(stderr, "tern-load: not a size: %s\n", text);
        exit(1);
    }
    return (uint64_t)(value * (double)scale);
}

static double parse_number(const char *text, const char *option)
{
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end || value < 0) {
        fprintf(stderr, "tern-load: --%s needs a non-negative number, not %s\n", option, text);
        exit(1);
    }
    return value;
}

static void parse_options(int argc, char **argv)
{
    enum {
        O_MODE = 256, O_HOST, O_PORT, O_PATH, O_CONNS, O_INFLIGHT, O_SIZE, O_BINARY, O_TEXT, O_FRAME, O_DURATION,
        O_WARMUP, O_MESSAGES, O_THREADS, O_SOURCES, O_PID, O_PING, O_SETTLE, O_RAMP, O_VERIFY, O_RAW, O_CONNECT_TIMEOUT,
        O_CLOSE_TIMEOUT, O_TLS, O_TLS_MAX, O_TLS_SUITES, O_DEFLATE, O_DEFLATE_OFFER, O_DEFLATE_LEVEL, O_PAYLOAD, O_PAYLOAD_FILE, O_GREET, O_HELP
    };
    static const struct option long_options[] = {
        {"mode", required_argument, 0, O_MODE},
        {"host", required_argument, 0, O_HOST},
        {"port", required_argument, 0, O_PORT},
        {"path", required_argument, 0, O_PATH},
        {"conns", required_argument, 0, O_CONNS},
        {"inflight", required_argument, 0, O_INFLIGHT},
        {"size", required_argument, 0, O_SIZE},
        {"binary", no_argument, 0, O_BINARY},
        {"text", no_argument, 0, O_TEXT},
        {"frame-size", required_argument, 0, O_FRAME},
        {"duration", required_argument, 0, O_DURATION},
        {"warmup", required_argument, 0, O_WARMUP},
        {"messages", required_argument, 0, O_MESSAGES},
        {"threads", required_argument, 0, O_THREADS},
        {"sources", required_argument, 0, O_SOURCES},
        {"server-pid", required_argument, 0, O_PID},
        {"ping-interval", required_argument, 0, O_PING},
        {"settle", required_argument, 0, O_SETTLE},
        {"ramp", required_argument, 0, O_RAMP},
        {"verify", no_argument, 0, O_VERIFY},
        {"raw", no_argument, 0, O_RAW},
        {"connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT},
        {"close-timeout", required_argument, 0, O_CLOSE_TIMEOUT},
        {"tls", no_argument, 0, O_TLS},
        {"tls-max", required_argument, 0, O_TLS_MAX},
        {"tls-suites", required_argument, 0, O_TLS_SUITES},
        {"deflate", no_argument, 0, O_DEFLATE},
        {"deflate-offer", required_argument, 0, O_DEFLATE_OFFER},
        {"deflate-level", required_argument, 0, O_DEFLATE_LEVEL},
        {"payload", required_argument, 0, O_PAYLOAD},
        {"payload-file", required_argument, 0, O_PAYLOAD_FILE},
        {"greet", no_argument, 0, O_GREET},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    double connections = -1, inflight = -1, warmup = -1, sources = -1;
    int64_t size = -1;
    opt.host = "127.0.0.1";
    opt.duration = 10;
    opt.threads = 1;
    opt.ping_interval = 5;
    opt.settle = 2;
    opt.ramp = 256;
    opt.connect_timeout = 10;
    opt.close_timeout = 2;
    opt.deflate_offer = PMD_DEFAULT_OFFER;
    opt.deflate_level = 6;
    int option;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case O_MODE: {
            int found = 0;
            for (int m = 0; m < 4; m++)
                if (strcmp(optarg, mode_names[m]) == 0)
                    opt.mode = (enum mode)m, found = 1;
            if (!found) {
                fprintf(stderr, "tern-load: unknown mode %s\n", optarg);
                exit(1);
            }
            break;
        }
        case O_HOST: opt.host = optarg; break;
        case O_PORT: opt.port = (int)parse_number(optarg, "port"); break;
        case O_PATH: opt.path = optarg; break;
        case O_CONNS: connections = parse_number(optarg, "conns"); break;
        case O_INFLIGHT: inflight = parse_number(optarg, "inflight"); break;
        case O_SIZE: size = (int64_t)parse_size(optarg); break;
        case O_BINARY: opt.binary = 1; break;
        case O_TEXT: opt.binary = 0; break;
        case O_FRAME: opt.frame_size = parse_size(optarg); break;
        case O_DURATION: opt.duration = parse_number(optarg, "duration"); break;
        case O_WARMUP: warmup = parse_number(optarg, "warmup"); break;
        case O_MESSAGES: opt.messages = (uint64_t)parse_number(optarg, "messages"); break;
        case O_THREADS: opt.threads = (int)parse_number(optarg, "threads"); break;
        case O_SOURCES: sources = parse_number(optarg, "sources"); break;
        case O_PID: opt.server_pid = (int)parse_number(optarg, "server-pid"); break;
        case O_PING: opt.ping_interval = parse_number(optarg, "ping-interval"); break;
        case O_SETTLE: opt.settle = parse_number(optarg, "settle"); break;
        case O_RAMP: opt.ramp = (uint32_t)parse_number(optarg, "ramp"); break;
        case O_VERIFY: opt.verify = 1; break;
        case O_RAW: opt.raw = 1; break;
        case O_CONNECT_TIMEOUT: opt.connect_timeout = parse_number(optarg, "connect-timeout"); break;
        case O_CLOSE_TIMEOUT: opt.close_timeout = parse_number(optarg, "close-timeout"); break;
        case O_TLS: opt.tls = 1; break;
        case O_TLS_MAX:
            if (strcmp(optarg, "1.2") != 0 && strcmp(optarg, "1.3") != 0) {
                fprintf(stderr, "tern-load: --tls-max is 1.2 or 1.3\n");
                exit(1);
            }
            opt.tls_max = optarg[2] == '2' ? 12 : 13;
            break;
        case O_TLS_SUITES: opt.tls_suites = optarg; break;
        case O_DEFLATE: opt.deflate = 1; break;
        case O_DEFLATE_OFFER: opt.deflate = 1, opt.deflate_offer = optarg; break;
        case O_DEFLATE_LEVEL: opt.deflate_level = (int)parse_number(optarg, "deflate-level"); break;
        case O_PAYLOAD: opt.payload_name = optarg; break;
        case O_PAYLOAD_FILE: opt.payload_file = optarg; break;
        case O_GREET: opt.greet = 1; break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tern-load: unexpected argument %s\n", argv[optind]);
        exit(1);
    }
    if (opt.port <= 0 || opt.port > 65535) {
        fprintf(stderr, "tern-load: --port is required (1-65535)\n");
        usage(stderr);
        exit(1);
    }

    static const uint32_t default_connections[] = {100, 1000, 50, 10000};
    opt.connections = connections >= 0 ? (uint32_t)connections : default_connections[opt.mode];
    opt.inflight = inflight >= 0 ? (uint32_t)inflight : (opt.mode == MODE_BROADCAST ? 16 : 1);
    opt.size = size >= 0 ? (uint64_t)size : (opt.mode == MODE_BROADCAST ? 64 : 32);
    opt.warmup = warmup >= 0 ? warmup : (opt.mode == MODE_HOLD ? 0 : 1);
    if (!opt.path)
        opt.path = opt.mode == MODE_BROADCAST ? "/broadcast" : "/echo";
    opt.total_connections = opt.connections + (opt.mode == MODE_BROADCAST ? 1 : 0);

    if (opt.connections < 1 || opt.connections > MAX_CONNECTIONS) {
        fprintf(stderr, "tern-load: --conns must be 1..%u\n", MAX_CONNECTIONS);
        exit(1);
    }
    if (opt.inflight < 1 || opt.inflight > MAX_INFLIGHT) {
        fprintf(stderr, "tern-load: --inflight must be 1..%u\n", MAX_INFLIGHT);
        exit(1);
    }
    if (opt.size > MAX_SIZE) {
        fprintf(stderr, "tern-load: --size is at most 1 GiB\n");
        exit(1);
    }
    if (opt.mode == MODE_BROADCAST && opt.size < BROADCAST_HEAD) {
        fprintf(stderr, "tern-load: broadcast messages carry a %d-byte header: --size must be at least that\n",
                BROADCAST_HEAD);
        exit(1);
    }
    if (opt.raw && (opt.tls || opt.deflate)) {
        fprintf(stderr, "tern-load: --raw is plain TCP: --tls and --deflate do not apply\n");
        exit(1);
    }
    if (opt.deflate) {
        const char *problem = pmd_parse(opt.deflate_offer, strlen(opt.deflate_offer), &opt.offer);
        if (problem) {
            fprintf(stderr, "tern-load: --deflate-offer: %s\n", problem);
            exit(1);
        }
        opt.client_window_bits = opt.offer.client_max_window_bits > 0 ? opt.offer.client_max_window_bits : 15;
        if (opt.client_window_bits == 8) {
            /* zlib's raw deflate has no 8-bit window (it would need 9, which breaks the promise). */
            fprintf(stderr, "tern-load: client_max_window_bits=8 cannot be honoured with zlib: offer 9..15\n");
            exit(1);
        }
        if (opt.deflate_level < 0 || opt.deflate_level > 9) {
            fprintf(stderr, "tern-load: --deflate-level is 0..9\n");
            exit(1);
        }
    }
    if (opt.greet && (opt.mode != MODE_HOLD || opt.raw)) {
        fprintf(stderr, "tern-load: --greet is for hold mode over WebSocket\n");
        exit(1);
    }
    if ((opt.payload_name || opt.payload_file) &&
        ((opt.mode != MODE_ECHO && !opt.greet) || size >= 0 || opt.binary || (opt.payload_name && opt.payload_file))) {
        fprintf(stderr, "tern-load: --payload and --payload-file are for echo and hold --greet, as text, and set the "
                        "size themselves\n");
        exit(1);
    }
    if (opt.raw && opt.frame_size) {
        fprintf(stderr, "tern-load: --raw has no frames: --frame-size does not apply\n");
        exit(1);
    }
    if (opt.raw && opt.size == 0 && (opt.mode == MODE_ECHO || opt.mode == MODE_BROADCAST)) {
        fprintf(stderr, "tern-load: --raw cannot delimit empty messages: --size must be at least 1\n");
        exit(1);
    }
    if (opt.threads < 1 || opt.threads > 256 || (uint32_t)opt.threads > opt.total_connections) {
        fprintf(stderr, "tern-load: --threads must be 1..256 and no more than the connections\n");
        exit(1);
    }
    if (opt.ramp < 1)
        opt.ramp = 1;
    if (opt.duration <= 0 || opt.duration > 86400) {
        fprintf(stderr, "tern-load: --duration must be in (0, 86400]\n");
        exit(1);
    }
    if (strlen(opt.path) > 512 || opt.path[0] != '/') {
        fprintf(stderr, "tern-load: --path must start with / (and be short)\n");
        exit(1);
    }

    /* Loopback only: this tool is for measuring a server on this machine, never for loading anyone else's. */
    const char *host = strcmp(opt.host, "localhost") == 0 ? "127.0.0.1" : opt.host;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&opt.target;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&opt.target;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "tern-load: refusing %s: only loopback targets (127.x.x.x, ::1) are allowed\n", host);
            exit(1);
        }
        opt.family = v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)opt.port);
        opt.target_length = sizeof *v4;
        snprintf(opt.host_header, sizeof opt.host_header, "%s:%d", host, opt.port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
            fprintf(stderr, "tern-load: refusing %s: only loopback targets (127.x.x.x, ::1) are allowed\n", host);
            exit(1);
        }
        opt.family = v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)opt.port);
        opt.target_length = sizeof *v6;
        snprintf(opt.host_header, sizeof opt.host_header, "[::1]:%d", opt.port);
    } else {
        fprintf(stderr, "tern-load: --host must be a numeric loopback address, not %s\n", opt.host);
        exit(1);
    }

    if (sources >= 1)
        opt.sources = (uint32_t)sources;
    else if (opt.mode == MODE_CONNECT)
        opt.sources = 8;
    else
        opt.sources = (opt.total_connections + 19999) / 20000;
    if (opt.sources > 254)
        opt.sources = 254;
    if (opt.family == AF_INET6)
        opt.sources = 1; /* ::1 is the only IPv6 loopback address */
}

/* ---------- main ---------- */

/* --deflate echo: every message compressed before the run, one per value of the sequence-number slot, so the run
 * measures the server's compression and not ours. Returns the bytes of all the variants. */
static uint64_t compress_variants(void)
{
    uint64_t per_message = opt.size ? opt.size : 1;
    variant_count = (uint32_t)(COMPRESSED_VARIANTS_BYTES / per_message);
    variant_count = variant_count < 1 ? 1 : variant_count > MAX_COMPRESSED_VARIANTS ? MAX_COMPRESSED_VARIANTS : variant_count;
    variants = calloc(variant_count, sizeof *variants);
    variant_lengths = calloc(variant_count, sizeof *variant_lengths);
    uint8_t *message = malloc(opt.size + HEAD_CAPACITY + opt.slot);
    struct pmd_deflater deflater;
    if (!variants || !variant_lengths || !message ||
        pmd_deflater_init(&deflater, opt.deflate_level, opt.client_window_bits) != 0) {
        fprintf(stderr, "tern-load: cannot set up the compressed messages\n");
        exit(1);
    }
    memcpy(message, fill, opt.size);
    uint64_t total = 0;
    for (uint32_t k = 0; k < variant_count; k++) {
        format_hex(k, message + opt.slot, (int)echo_head_length());
        size_t capacity = 0;
        variant_lengths[k] = pmd_compress(&deflater, message, opt.size, &variants[k], &capacity);
        if (variant_lengths[k] == (size_t)-1) {
            fprintf(stderr, "tern-load: zlib failed to compress a message\n");
            exit(1);
        }
        total += variant_lengths[k];
    }
    pmd_deflater_end(&deflater);
    free(message);
    return total;
}

static void raise_file_limit(uint64_t needed)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur >= needed)
        return;
    if (limit.rlim_max < needed) {
        struct rlimit wanted = {needed, needed}; /* works with CAP_SYS_RESOURCE */
        if (setrlimit(RLIMIT_NOFILE, &wanted) == 0)
            return;
    }
    limit.rlim_cur = limit.rlim_max < needed ? limit.rlim_max : needed;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < needed) {
        fprintf(stderr, "tern-load: %llu connections need %llu file descriptors but the limit is %llu (ulimit -n)\n",
                (unsigned long long)opt.total_connections, (unsigned long long)needed,
                (unsigned long long)limit.rlim_cur);
        exit(1);
    }
}

static void setup_workers(size_t fill_size)
{
    workers = calloc((size_t)opt.threads, sizeof *workers);
    for (int i = 0; i < opt.threads; i++) {
        struct worker *w = &workers[i];
        w->index = i;
        w->epoll = epoll_create1(EPOLL_CLOEXEC);
        w->count = (opt.total_connections - (uint32_t)i + (uint32_t)opt.threads - 1) / (uint32_t)opt.threads;
        w->open_limit = w->count;
        w->connections = calloc(w->count, sizeof *w->connections);
        w->read_buffer = malloc(READ_BUFFER_SIZE);
        w->outgoing = malloc(fill_size);
        if (!w->outgoing) {
            fprintf(stderr, "tern-load: out of memory for a %zu-byte message\n", fill_size);
            exit(1);
        }
        memcpy(w->outgoing, fill, fill_size);
        if (opt.deflate) {
            w->inflate_buffer = malloc(INFLATE_BUFFER_SIZE);
            if (!w->inflate_buffer ||
                pmd_deflater_init(&w->deflater, opt.deflate_level, opt.client_window_bits) != 0) {
                fprintf(stderr, "tern-load: cannot set up zlib\n");
                exit(1);
            }
        }
        w->latency = calloc(1, sizeof *w->latency);
        w->idle = calloc(w->count, sizeof *w->idle);
        w->seen_phase = PHASE_CONNECT;
        if (getrandom(&w->rng, sizeof w->rng, 0) != sizeof w->rng) {
            perror("tern-load: getrandom");
            exit(1);
        }
        if (w->epoll < 0 || !w->connections || !w->read_buffer || !w->latency || !w->idle) {
            fprintf(stderr, "tern-load: cannot set up worker %d\n", i);
            exit(1);
        }
        for (uint32_t j = 0; j < w->count; j++) {
            struct connection *c = &w->connections[j];
            c->fd = -1;
            c->id = j * (uint32_t)opt.threads + (uint32_t)i;
            switch (opt.mode) {
            case MODE_ECHO:
                c->role = ROLE_ECHO;
                c->sent_at = calloc(opt.inflight, sizeof *c->sent_at);
                if (!c->sent_at) {
                    fprintf(stderr, "tern-load: out of memory\n");
                    exit(1);
                }
                break;
            case MODE_BROADCAST: c->role = c->id == 0 ? ROLE_PUBLISHER : ROLE_SUBSCRIBER; break;
            case MODE_CONNECT: c->role = ROLE_CYCLE; break;
            case MODE_HOLD: c->role = ROLE_HOLD; break;
            }
            if (opt.mode == MODE_CONNECT)
                w->idle[w->idle_count++] = w->count - 1 - j; /* popped from the end: lowest index first */
        }
        if (opt.mode == MODE_BROADCAST && i == 0) {
            w->publisher = &w->connections[0];
            w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            struct epoll_event event = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
            epoll_ctl(w->epoll, EPOLL_CTL_ADD, w->wake, &event);
        }
    }
    if (opt.mode == MODE_BROADCAST)
        delivery_counts = calloc(opt.inflight, sizeof *delivery_counts);
}

static void sleep_seconds(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int all_ready(uint32_t per_worker)
{
    for (int i = 0; i < opt.threads; i++)
        if (__atomic_load_n(&workers[i].ready_for, __ATOMIC_ACQUIRE) != (uint64_t)per_worker + 1)
            return 0;
    return 1;
}

static uint64_t total_opened(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < opt.threads; i++)
        sum += peek(&workers[i].counters.opened);
    return sum;
}

/* Opens up to `per_worker` connections on each worker and waits until every attempt has ended one way or the
 * other (each is bounded by --connect-timeout). */
static void open_connections(uint32_t per_worker)
{
    for (int i = 0; i < opt.threads; i++)
        __atomic_store_n(&workers[i].open_limit, per_worker, __ATOMIC_RELEASE);
    uint64_t give_up = now_ns() + (uint64_t)((opt.connect_timeout + 5) * 1e9) * (1 + opt.total_connections / 1000);
    sleep_seconds(0.01);
    while (!all_ready(per_worker) && now_ns() < give_up)
        sleep_seconds(0.01);
}

static void print_latency(const char *label, const struct histogram *h)
{
    if (h->count == 0) {
        printf("%-12s none recorded\n", label);
        return;
    }
    printf("%-12s p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (%llu samples)\n", label,
           histogram_quantile(h, 0.5) / 1e6, histogram_quantile(h, 0.99) / 1e6, histogram_quantile(h, 0.999) / 1e6,
           h->max / 1e6, (unsigned long long)h->count);
}

static void print_count(const char *label, uint64_t value)
{
    if (value)
        printf(" %s %llu", label, (unsigned long long)value);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_options(argc, argv);
    raise_file_limit((uint64_t)opt.total_connections + 64);

    struct payload payload = {0};
    if (opt.payload_name && payload_builtin(opt.payload_name, &payload) != 0) {
        fprintf(stderr, "tern-load: unknown --payload %s (chat300, chat16k)\n", opt.payload_name);
        exit(1);
    }
    if (opt.payload_file && payload_from_file(opt.payload_file, &payload) != 0)
        exit(1);
    if (payload.bytes) {
        opt.size = payload.length;
        opt.slot = payload.slot;
    }
    uint64_t fill_size = opt.size > HEAD_CAPACITY ? opt.size : HEAD_CAPACITY;
    fill_size = fill_size > opt.slot + HEAD_CAPACITY ? fill_size : opt.slot + HEAD_CAPACITY;
    fill = calloc(1, fill_size);
    if (!fill) {
        fprintf(stderr, "tern-load: out of memory for a %llu-byte message\n", (unsigned long long)fill_size);
        exit(1);
    }
    if (payload.bytes)
        memcpy(fill, payload.bytes, payload.length);
    else
        for (uint64_t i = 0; i < fill_size; i++)
            fill[i] = (uint8_t)('a' + i % 26); /* ASCII, so text messages are valid UTF-8 */
    free(payload.bytes);

    if (opt.tls && tls_setup(opt.tls_max, opt.mode == MODE_HOLD || opt.mode == MODE_CONNECT, opt.tls_suites) != 0)
        exit(1);
    uint64_t compressed_total = opt.deflate && (opt.mode == MODE_ECHO || opt.greet) ? compress_variants() : 0;
    setup_workers((size_t)fill_size);

    if (opt.raw)
        printf("tern-load %s raw tcp://%s  ", mode_names[opt.mode], opt.host_header);
    else
        printf("tern-load %s %s://%s%s  ", mode_names[opt.mode], opt.tls ? "wss" : "ws", opt.host_header, opt.path);
    switch (opt.mode) {
    case MODE_ECHO:
        printf("%u connections x %u in flight, %llu B %s", opt.connections, opt.inflight,
               (unsigned long long)opt.size, opt.binary ? "binary" : "text");
        break;
    case MODE_BROADCAST:
        printf("1 publisher -> %u subscribers, window %u, %llu B %s", opt.connections, opt.inflight,
               (unsigned long long)opt.size, opt.binary ? "binary" : "text");
        break;
    case MODE_CONNECT:
        printf(opt.raw ? "%u concurrent connect+greeting+close cycles" : "%u concurrent connect+handshake+close cycles",
               opt.connections);
        break;
    case MODE_HOLD:
        printf("%u idle connections, a ping every %g s each", opt.connections, opt.ping_interval);
        if (opt.greet)
            printf(", each after echoing one %llu B %s message", (unsigned long long)opt.size,
                   opt.binary ? "binary" : "text");
        break;
    }
    printf(", %d thread%s, %u source address%s, %g s after %g s warm-up\n", opt.threads, opt.threads > 1 ? "s" : "",
           opt.sources, opt.sources > 1 ? "es" : "", opt.duration, opt.warmup);
    if (payload.length)
        printf("payload      %s: %llu B of JSON text, the sequence number at byte %zu\n",
               opt.payload_name ? opt.payload_name : opt.payload_file, (unsigned long long)opt.size, opt.slot);
    if (opt.deflate) {
        printf("deflate      offer \"%s\"; what we send: zlib level %d, %d-bit window", opt.deflate_offer,
               opt.deflate_level, opt.client_window_bits);
        if (variant_count)
            printf(", %u variants compressed before the run, %.0f B on average (%.1f %% of %llu B)", variant_count,
                   (double)compressed_total / variant_count, 100.0 * (double)compressed_total / variant_count / (double)opt.size,
                   (unsigned long long)opt.size);
        printf("\n");
    }

    int64_t rss_before = -1, rss_warm = -1, rss_open = -1, rss_end = -1;
    uint64_t warm_connections = 0;
    if (opt.mode == MODE_HOLD && opt.server_pid > 0)
        rss_before = process_rss_kib(opt.server_pid);
    if (opt.mode != MODE_CONNECT)
        for (int i = 0; i < opt.threads; i++)
            workers[i].open_limit = 0;

    for (int i = 0; i < opt.threads; i++)
        pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);

    uint64_t connect_started = now_ns();
    if (opt.mode != MODE_CONNECT) {
        if (opt.mode == MODE_HOLD && opt.server_pid > 0) {
            /* A first few connections pay for the server's one-time costs (code compiled on first use, pools
             * allocated): memory per connection is measured from after them. */
            uint32_t warm_total = opt.connections / 10 < 100 ? opt.connections / 10 : 100;
            open_connections((warm_total + (uint32_t)opt.threads - 1) / (uint32_t)opt.threads);
            sleep_seconds(opt.settle / 2);
            warm_connections = total_opened();
            rss_warm = process_rss_kib(opt.server_pid);
        }
        open_connections(UINT32_MAX);
        double took = (double)(now_ns() - connect_started) / 1e9;
        uint64_t opened = total_opened();
        printf("connections  %llu open of %u in %.2f s\n", (unsigned long long)opened, opt.total_connections, took);
        if (opt.mode == MODE_HOLD && opt.server_pid > 0) {
            sleep_seconds(opt.settle);
            rss_open = process_rss_kib(opt.server_pid);
        }
    }

    __atomic_store_n(&run_phase, PHASE_RUN, __ATOMIC_RELEASE);
    sleep_seconds(opt.warmup);

    double own_cpu_start = own_cpu_seconds();
    double server_cpu_start = opt.server_pid > 0 ? process_cpu_seconds(opt.server_pid) : -1;
    uint64_t measure_start = now_ns();
    __atomic_store_n(&measuring, 1, __ATOMIC_RELEASE);
    uint64_t measure_end;
    for (;;) {
        sleep_seconds(0.01);
        measure_end = now_ns();
        if ((double)(measure_end - measure_start) / 1e9 >= opt.duration)
            break;
        if (opt.messages) {
            uint64_t done = 0;
            for (int i = 0; i < opt.threads; i++)
                done += peek(&workers[i].counters.received) + peek(&workers[i].counters.cycles);
            if (done >= opt.messages)
                break;
        }
        if (opt.mode == MODE_CONNECT && measure_end - measure_start > 1000000000ull && total_opened() == 0)
            break; /* not one handshake in a second: the server is not there */
        if (opt.mode != MODE_CONNECT) {
            uint32_t active = 0;
            for (int i = 0; i < opt.threads; i++)
                active += __atomic_load_n(&workers[i].active, __ATOMIC_RELAXED);
            if (active == 0)
                break; /* every connection is gone: nothing left to measure */
        }
    }
    __atomic_store_n(&measuring, 0, __ATOMIC_RELEASE);
    double own_cpu = own_cpu_seconds() - own_cpu_start;
    double server_cpu = opt.server_pid > 0 ? process_cpu_seconds(opt.server_pid) - server_cpu_start : -1;
    if (server_cpu_start < 0)
        server_cpu = -1;
    double elapsed = (double)(measure_end - measure_start) / 1e9;
    if (opt.mode == MODE_HOLD && opt.server_pid > 0)
        rss_end = process_rss_kib(opt.server_pid);

    __atomic_store_n(&run_phase, PHASE_STOP, __ATOMIC_RELEASE);
    for (int i = 0; i < opt.threads; i++)
        pthread_join(workers[i].thread, NULL);

    struct counters total = {0};
    struct histogram *latency = calloc(1, sizeof *latency);
    const char *first_error = "";
    for (int i = 0; i < opt.threads; i++) {
        const struct counters *c = &workers[i].counters;
        const uint64_t *from = (const uint64_t *)c;
        uint64_t *to = (uint64_t *)&total;
        for (size_t k = 0; k < sizeof total / sizeof(uint64_t); k++)
            to[k] += from[k];
        histogram_merge(latency, workers[i].latency);
        if (!first_error[0] && workers[i].first_error[0])
            first_error = workers[i].first_error;
    }
    uint64_t errors = total.connect_failed + total.handshake_failed + total.protocol_errors + total.server_closed +
                      total.verify_failed + total.timeouts + total.unclean_closes;

    uint64_t work_items = opt.mode == MODE_CONNECT ? total.cycles : total.received;
    double rate = elapsed > 0 ? (double)work_items / elapsed : 0;
    double megabytes = elapsed > 0 ? (double)total.received_bytes / 1e6 / elapsed : 0;
    switch (opt.mode) {
    case MODE_ECHO:
        printf("messages     %llu echoed in %.2f s: %.0f msg/s, %.2f MB/s\n", (unsigned long long)total.received,
               elapsed, rate, megabytes);
        print_latency("latency", latency);
        break;
    case MODE_BROADCAST:
        printf("deliveries   %llu in %.2f s: %.0f deliveries/s, %.2f MB/s (%llu messages published, %.0f/s)\n",
               (unsigned long long)total.received, elapsed, rate, megabytes, (unsigned long long)total.sent,
               total.sent / elapsed);
        print_latency("delivery", latency);
        break;
    case MODE_CONNECT:
        printf("cycles       %llu connect+handshake+close in %.2f s: %.0f/s\n", (unsigned long long)total.cycles,
               elapsed, rate);
        print_latency("handshake", latency);
        break;
    case MODE_HOLD:
        printf("held         %llu connections for %.2f s; %llu pings, %llu pongs", (unsigned long long)total.opened,
               elapsed, (unsigned long long)total.pings_sent, (unsigned long long)total.pongs);
        if (opt.greet)
            printf("; %llu greetings echoed", (unsigned long long)total.greeted);
        printf("\n");
        print_latency("ping rtt", latency);
        break;
    }
    printf("errors       %llu", (unsigned long long)errors);
    print_count("connect", total.connect_failed);
    print_count("handshake", total.handshake_failed);
    print_count("protocol", total.protocol_errors);
    print_count("server-closed", total.server_closed);
    print_count("verify", total.verify_failed);
    print_count("timeouts", total.timeouts);
    print_count("unclean-close", total.unclean_closes);
    if (first_error[0])
        printf("  (first: %s)", first_error);
    printf("\n");
    if (negotiated_tls[0])
        printf("tls          %s (first connection)\n", negotiated_tls);
    if (opt.deflate) {
        printf("extension    %s\n", negotiated[0] ? negotiated : "(none negotiated)");
        uint64_t data = total.compressed_received + total.uncompressed_received;
        if (data)
            printf("compression  %llu of %llu messages received compressed; payload %.1f %% of its inflated size\n",
                   (unsigned long long)total.compressed_received, (unsigned long long)data,
                   total.inflated_bytes ? 100.0 * (double)total.wire_bytes / (double)total.inflated_bytes : 0.0);
    }
    if (total.server_pings || total.client_closed_tcp)
        printf("notes        server pings answered %llu; connections the server left open after the close "
               "handshake %llu\n",
               (unsigned long long)total.server_pings, (unsigned long long)total.client_closed_tcp);

    /* Per message as well as per second: the load generator must cost less per message than the server, or
     * the run measures the load generator. */
    double per_item = work_items ? 1e6 / (double)work_items : 0;
    printf("cpu          load generator %.2f s = %.0f%% of a core", own_cpu, 100 * own_cpu / elapsed);
    if (work_items)
        printf(" (%.2f us per %s)", own_cpu * per_item, opt.mode == MODE_CONNECT ? "cycle" : "message");
    if (server_cpu >= 0) {
        printf("; server %.2f s = %.0f%%", server_cpu, 100 * server_cpu / elapsed);
        if (work_items)
            printf(" (%.2f us)", server_cpu * per_item);
    }
    printf("\n");

    double kib_per_connection = -1, kib_per_connection_open = -1;
    if (opt.mode == MODE_HOLD && rss_warm >= 0 && rss_open >= 0 && rss_end >= 0) {
        uint64_t counted = total.opened > warm_connections ? total.opened - warm_connections : 0;
        if (counted) {
            kib_per_connection_open = (double)(rss_open - rss_warm) / (double)counted;
            kib_per_connection = (double)(rss_end - rss_warm) / (double)counted;
        }
        printf("server rss   %lld KiB before, %lld KiB with %llu connections, %lld KiB with all open, %lld KiB after "
               "the hold\n",
               (long long)rss_before, (long long)rss_warm, (unsigned long long)warm_connections, (long long)rss_open,
               (long long)rss_end);
        printf("memory       %.2f KiB per connection after the hold (%.2f KiB right after opening), "
               "over the last %llu connections\n",
               kib_per_connection, kib_per_connection_open, (unsigned long long)counted);
    }

    printf("RESULT mode=%s raw=%d conns=%u inflight=%u size=%llu opened=%llu seconds=%.3f rate=%.1f mbps=%.3f "
           "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%llu load_cpu_pct=%.1f server_cpu_pct=%.1f "
           "kib_per_conn=%.3f kib_per_conn_open=%.3f tls=%d deflate=%d compressed_received=%llu "
           "uncompressed_received=%llu wire_pct=%.1f greeted=%llu\n",
           mode_names[opt.mode], opt.raw, opt.connections, opt.inflight, (unsigned long long)opt.size,
           (unsigned long long)total.opened, elapsed, rate, megabytes, histogram_quantile(latency, 0.5) / 1e3,
           histogram_quantile(latency, 0.99) / 1e3, histogram_quantile(latency, 0.999) / 1e3, latency->max / 1e3,
           (unsigned long long)errors, 100 * own_cpu / elapsed, server_cpu >= 0 ? 100 * server_cpu / elapsed : -1.0,
           kib_per_connection, kib_per_connection_open, opt.tls, opt.deflate,
           (unsigned long long)total.compressed_received, (unsigned long long)total.uncompressed_received,
           total.inflated_bytes ? 100.0 * (double)total.wire_bytes / (double)total.inflated_bytes : 100.0,
           (unsigned long long)total.greeted);
    free(latency);
    /* A run that moved nothing (say, a broadcast server that only echoes) measured nothing: not a success. */
    int nothing_measured = opt.mode != MODE_HOLD && work_items == 0;
    if (nothing_measured)
        fprintf(stderr, "tern-load: nothing was measured (no %s in the window)\n",
                opt.mode == MODE_CONNECT ? "cycle completed" : "message received");
    return errors || total.opened == 0 || nothing_measured ? 2 : 0;
}
