/* Unit tests of the load generator's framing (with permessage-deflate's RSV1), negotiation and inflating, built-in
 * payloads, handshake hashing and histogram: `make test`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "payload.h"
#include "pmdeflate.h"
#include "sha1.h"
#include "wsframe.h"

static int failures;

#define CHECK(condition, ...)                                                                                         \
    do {                                                                                                              \
        if (!(condition)) {                                                                                           \
            failures++;                                                                                               \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                               \
            printf(__VA_ARGS__);                                                                                      \
            printf("\n");                                                                                             \
        }                                                                                                             \
    } while (0)

/* ---------- a recorder for decoder events ---------- */

struct event {
    int kind; /* 'm' message, 'c' control */
    int opcode;
    uint64_t length;
    uint64_t checksum; /* of the payload bytes, in order */
};

struct recorder {
    struct event events[64];
    int compressed[64]; /* per event: the message had RSV1 */
    int count;
    uint64_t running_checksum;
    uint64_t expected_offset;
    int offset_errors;
};

static uint64_t mix(uint64_t sum, uint8_t byte) { return (sum ^ byte) * 0x100000001b3ull; }

static void record_data(void *context, const uint8_t *bytes, size_t count, uint64_t offset)
{
    struct recorder *r = context;
    if (offset != r->expected_offset)
        r->offset_errors++;
    r->expected_offset = offset + count;
    for (size_t i = 0; i < count; i++)
        r->running_checksum = mix(r->running_checksum, bytes[i]);
}

static int record_message(void *context, int opcode, uint64_t length, int compressed)
{
    struct recorder *r = context;
    r->compressed[r->count] = compressed;
    r->events[r->count++] = (struct event){'m', opcode, length, r->running_checksum};
    r->running_checksum = 0;
    r->expected_offset = 0;
    return 0;
}

static int record_control(void *context, int opcode, const uint8_t *payload, size_t length)
{
    struct recorder *r = context;
    uint64_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum = mix(sum, payload[i]);
    r->events[r->count++] = (struct event){'c', opcode, length, sum};
    return 0;
}

static const struct ws_hooks recorder_hooks = {record_data, record_message, record_control};

/* ---------- a server-side frame writer, unmasked ---------- */

struct stream {
    uint8_t *bytes;
    size_t length, capacity;
};

static void put_frame_rsv1(struct stream *s, int fin, int rsv1, int opcode, const uint8_t *payload, uint64_t length)
{
    if (s->capacity - s->length < length + WS_MAX_HEADER) {
        s->capacity = (s->capacity + length + WS_MAX_HEADER) * 2;
        s->bytes = realloc(s->bytes, s->capacity);
    }
    s->length += ws_frame_header_rsv1(s->bytes + s->length, fin, rsv1, opcode, length, NULL);
    memcpy(s->bytes + s->length, payload, length);
    s->length += length;
}

static void put_frame(struct stream *s, int fin, int opcode, const uint8_t *payload, uint64_t length)
{
    if (s->capacity - s->length < length + WS_MAX_HEADER) {
        s->capacity = (s->capacity + length + WS_MAX_HEADER) * 2;
        s->bytes = realloc(s->bytes, s->capacity);
    }
    s->length += ws_frame_header(s->bytes + s->length, fin, opcode, length, NULL);
    memcpy(s->bytes + s->length, payload, length);
    s->length += length;
}

static uint64_t checksum(const uint8_t *bytes, size_t count)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++)
        sum = mix(sum, bytes[i]);
    return sum;
}

/* Feeds `s` in pieces of `piece` bytes (0: split points from a fixed pseudo-random sequence), with or without
 * permessage-deflate negotiated. */
static int feed_negotiated(struct recorder *r, const struct stream *s, size_t piece, int compression)
{
    struct ws_decoder decoder = {0};
    decoder.compression_negotiated = (uint8_t)compression;
    memset(r, 0, sizeof *r);
    uint64_t seed = 12345;
    size_t at = 0;
    while (at < s->length) {
        size_t take = piece;
        if (!piece) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            take = 1 + (size_t)(seed >> 33) % 300;
        }
        if (take > s->length - at)
            take = s->length - at;
        int result = ws_decode(&decoder, s->bytes + at, take, &recorder_hooks, r);
        if (result)
            return result;
        at += take;
    }
    return decoder.in_payload || decoder.header_length ? 99 : 0;
}

static int feed(struct recorder *r, const struct stream *s, size_t piece) { return feed_negotiated(r, s, piece, 0); }

static void test_decoder_all_length_forms_and_splits(void)
{
    static uint8_t payload[70000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    const uint64_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, 69999};
    struct stream s = {0};
    struct event expected[64];
    int expected_count = 0;
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
        int opcode = i % 2 ? WS_BINARY : WS_TEXT;
        put_frame(&s, 1, opcode, payload, lengths[i]);
        expected[expected_count++] = (struct event){'m', opcode, lengths[i], checksum(payload, lengths[i])};
    }
    /* A message in three fragments with a ping between the first two, then a pong and a close. */
    put_frame(&s, 0, WS_BINARY, payload, 100);
    put_frame(&s, 1, WS_PING, (const uint8_t *)"hello", 5);
    expected[expected_count++] = (struct event){'c', WS_PING, 5, checksum((const uint8_t *)"hello", 5)};
    put_frame(&s, 0, WS_CONTINUATION, payload + 100, 300);
    put_frame(&s, 1, WS_CONTINUATION, payload + 400, 65600);
    expected[expected_count++] = (struct event){'m', WS_BINARY, 66000, checksum(payload, 66000)};
    put_frame(&s, 1, WS_PONG, payload, 125);
    expected[expected_count++] = (struct event){'c', WS_PONG, 125, checksum(payload, 125)};
    uint8_t close_payload[] = {0x03, 0xE8, 'b', 'y', 'e'};
    put_frame(&s, 1, WS_CLOSE, close_payload, sizeof close_payload);
    expected[expected_count++] = (struct event){'c', WS_CLOSE, 5, checksum(close_payload, 5)};

    const size_t pieces[] = {0, 1, 2, 3, 7, 13, 125, 4096, 65536, 1 << 20};
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
        struct recorder r;
        int result = feed(&r, &s, pieces[p]);
        CHECK(result == 0, "pieces of %zu: decode returned %d", pieces[p], result);
        CHECK(r.offset_errors == 0, "pieces of %zu: data offsets out of order", pieces[p]);
        CHECK(r.count == expected_count, "pieces of %zu: %d events, expected %d", pieces[p], r.count, expected_count);
        for (int i = 0; i < r.count && i < expected_count; i++)
            CHECK(memcmp(&r.events[i], &expected[i], sizeof expected[i]) == 0,
                  "pieces of %zu: event %d is %c op %d len %llu, expected %c op %d len %llu", pieces[p], i,
                  r.events[i].kind, r.events[i].opcode, (unsigned long long)r.events[i].length, expected[i].kind,
                  expected[i].opcode, (unsigned long long)expected[i].length);
    }

    /* Every split point of a short stream with a 2-, 4- and 10-byte header. */
    struct stream small = {0};
    put_frame(&small, 1, WS_TEXT, payload, 5);
    put_frame(&small, 1, WS_BINARY, payload, 300);
    put_frame(&small, 1, WS_BINARY, payload, 65536);
    for (size_t split = 1; split < 340; split++) {
        struct ws_decoder decoder = {0};
        struct recorder r = {0};
        int result = ws_decode(&decoder, small.bytes, split, &recorder_hooks, &r);
        result |= ws_decode(&decoder, small.bytes + split, small.length - split, &recorder_hooks, &r);
        CHECK(result == 0 && r.count == 3 && r.events[2].length == 65536 && r.events[1].length == 300,
              "split at %zu: result %d, %d events", split, result, r.count);
    }
    free(s.bytes);
    free(small.bytes);
}

static int decode_bytes_negotiated(const uint8_t *bytes, size_t count, int compression)
{
    struct ws_decoder decoder = {0};
    decoder.compression_negotiated = (uint8_t)compression;
    struct recorder r = {0};
    return ws_decode(&decoder, bytes, count, &recorder_hooks, &r);
}

static int decode_bytes(const uint8_t *bytes, size_t count) { return decode_bytes_negotiated(bytes, count, 0); }

/* RSV1 marks a compressed message once permessage-deflate is negotiated: on the first frame only, never on a
 * control frame or a continuation (RFC 7692 section 6). */
static void test_decoder_compressed_messages(void)
{
    static uint8_t payload[70000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13 + 5);
    struct stream s = {0};
    put_frame_rsv1(&s, 1, 1, WS_TEXT, payload, 300);              /* compressed, one frame */
    put_frame_rsv1(&s, 0, 1, WS_BINARY, payload, 100);            /* compressed, fragmented ... */
    put_frame_rsv1(&s, 1, 0, WS_PING, payload, 4);                /* ... a ping in between ... */
    put_frame_rsv1(&s, 1, 0, WS_CONTINUATION, payload + 100, 69000); /* ... continued without RSV1 */
    put_frame_rsv1(&s, 1, 0, WS_TEXT, payload, 20);               /* not compressed */
    const size_t pieces[] = {0, 1, 3, 14, 4096, 1 << 20};
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
        struct recorder r;
        int result = feed_negotiated(&r, &s, pieces[p], 1);
        CHECK(result == 0 && r.count == 4, "pieces of %zu: result %d, %d events", pieces[p], result, r.count);
        CHECK(r.compressed[0] && r.events[0].length == 300, "pieces of %zu: first message compressed", pieces[p]);
        CHECK(r.events[1].kind == 'c' && r.events[1].opcode == WS_PING, "pieces of %zu: the ping", pieces[p]);
        CHECK(r.compressed[2] && r.events[2].length == 69100 && r.events[2].checksum == checksum(payload, 69100),
              "pieces of %zu: fragmented compressed message", pieces[p]);
        CHECK(!r.compressed[3] && r.events[3].length == 20, "pieces of %zu: plain message after", pieces[p]);
    }
    struct recorder r;
    CHECK(feed_negotiated(&r, &s, 0, 0) == WS_ERROR_RESERVED_BITS, "RSV1 without permessage-deflate negotiated");
    free(s.bytes);

    const uint8_t rsv1_ping[] = {0xC9, 0x00};
    CHECK(decode_bytes_negotiated(rsv1_ping, sizeof rsv1_ping, 1) == WS_ERROR_COMPRESSED_NOT_FIRST, "RSV1 on a ping");
    const uint8_t rsv1_close[] = {0xC8, 0x00};
    CHECK(decode_bytes_negotiated(rsv1_close, sizeof rsv1_close, 1) == WS_ERROR_COMPRESSED_NOT_FIRST, "RSV1 on a close");
    const uint8_t rsv1_continuation[] = {0x41, 0x01, 'a', 0xC0, 0x01, 'b'};
    CHECK(decode_bytes_negotiated(rsv1_continuation, sizeof rsv1_continuation, 1) == WS_ERROR_COMPRESSED_NOT_FIRST,
          "RSV1 on a continuation");
    const uint8_t rsv2[] = {0xA1, 0x00};
    CHECK(decode_bytes_negotiated(rsv2, sizeof rsv2, 1) == WS_ERROR_RESERVED_BITS, "RSV2 with deflate negotiated");
    const uint8_t rsv3[] = {0x91, 0x00};
    CHECK(decode_bytes_negotiated(rsv3, sizeof rsv3, 1) == WS_ERROR_RESERVED_BITS, "RSV3 with deflate negotiated");

    uint8_t header[WS_MAX_HEADER];
    const uint8_t key[4] = {1, 2, 3, 4};
    CHECK(ws_frame_header_rsv1(header, 1, 1, WS_TEXT, 5, key) == 6 && header[0] == 0xC1, "RSV1 header");
    CHECK(ws_frame_header_rsv1(header, 0, 0, WS_CONTINUATION, 5, key) == 6 && header[0] == 0x00, "no RSV1");
}

/* ---------- permessage-deflate ---------- */

static const char *parse_problem(const char *text, struct pmd_params *params)
{
    return pmd_parse(text, strlen(text), params);
}

static const char *answer_problem(const char *offer_text, const char *answer_text)
{
    struct pmd_params offer, answer;
    if (parse_problem(offer_text, &offer))
        return "offer does not parse";
    const char *problem = parse_problem(answer_text, &answer);
    return problem ? problem : pmd_check_answer(&offer, &answer);
}

static void test_negotiation(void)
{
    struct pmd_params p;
    CHECK(!parse_problem(PMD_DEFAULT_OFFER, &p) && p.server_no_context_takeover && p.client_no_context_takeover &&
              p.server_max_window_bits == -1 && p.client_max_window_bits == -1,
          "the default offer");
    CHECK(!parse_problem("permessage-deflate; client_max_window_bits", &p) && p.client_max_window_bits == 0,
          "client_max_window_bits without a value");
    CHECK(!parse_problem(" Permessage-Deflate ;server_max_window_bits = \"10\" ;client_max_window_bits=9 ", &p) &&
              p.server_max_window_bits == 10 && p.client_max_window_bits == 9,
          "spaces, case and a quoted value");
    CHECK(parse_problem("permessage-deflate; server_max_window_bits=16", &p), "16 bits");
    CHECK(parse_problem("permessage-deflate; server_max_window_bits=7", &p), "7 bits");
    CHECK(parse_problem("permessage-deflate; server_max_window_bits=010", &p), "leading zero");
    CHECK(parse_problem("permessage-deflate; server_no_context_takeover; server_no_context_takeover", &p), "twice");
    CHECK(parse_problem("permessage-deflate; server_no_context_takeover=1", &p), "value on a flag");
    CHECK(parse_problem("permessage-deflate; mystery", &p), "unknown parameter");
    CHECK(parse_problem("x-webkit-deflate-frame", &p), "another extension");
    CHECK(parse_problem("permessage-deflate, permessage-deflate", &p), "two elements");
    CHECK(parse_problem("permessage-deflate; server_max_window_bits=\"10", &p), "unterminated quote");

    const char *both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    CHECK(!answer_problem(PMD_DEFAULT_OFFER, both), "the usual answer");
    CHECK(!answer_problem(PMD_DEFAULT_OFFER, "permessage-deflate; server_no_context_takeover"),
          "client_no_context_takeover may be left out");
    CHECK(answer_problem(PMD_DEFAULT_OFFER, "permessage-deflate; client_no_context_takeover"),
          "server_no_context_takeover offered, so required");
    CHECK(!answer_problem("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
          "server_no_context_takeover may come unasked");
    CHECK(answer_problem(PMD_DEFAULT_OFFER, "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"),
          "client_max_window_bits not offered");
    CHECK(!answer_problem("permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10"),
          "client_max_window_bits offered without a value");
    CHECK(answer_problem("permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=10"),
          "client_max_window_bits above the offer");
    CHECK(answer_problem("permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits"),
          "client_max_window_bits without a value in an answer");
    CHECK(answer_problem("permessage-deflate; server_max_window_bits=10", "permessage-deflate"),
          "server_max_window_bits offered with a value, so required");
    CHECK(!answer_problem("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=9"),
          "server_max_window_bits at or below the offer");

    parse_problem("permessage-deflate; client_max_window_bits=11", &p);
    CHECK(pmd_client_window_bits(&p) == 11, "our window from the answer");
    parse_problem("permessage-deflate", &p);
    CHECK(pmd_client_window_bits(&p) == 15, "our window by default");
}

struct collected {
    uint8_t bytes[200000];
    size_t length;
    int offset_errors;
};

static void collect(void *context, const uint8_t *bytes, size_t count, uint64_t offset)
{
    struct collected *c = context;
    if (offset != c->length || c->length + count > sizeof c->bytes) {
        c->offset_errors++;
        return;
    }
    memcpy(c->bytes + c->length, bytes, count);
    c->length += count;
}

/* Inflates a whole message fed in pieces of `piece` bytes into `out`; returns pmd_inflate's result. */
static int inflate_message(struct pmd_inflater *i, const uint8_t *bytes, size_t length, size_t piece, int reset,
                           uint64_t limit, struct collected *out)
{
    static uint8_t buffer[1000]; /* small, so output comes out in many pieces */
    out->length = 0;
    out->offset_errors = 0;
    size_t at = 0;
    do {
        size_t take = length - at < piece ? length - at : piece;
        int result = pmd_inflate(i, bytes + at, take, at + take == length, reset, limit, buffer, sizeof buffer, collect,
                                 out);
        if (result)
            return result;
        at += take;
    } while (at < length);
    return 0;
}

static void test_inflate_and_compress(void)
{
    static struct collected out;
    struct pmd_inflater inflater;
    pmd_inflater_init(&inflater);

    /* RFC 7692 section 7.2.3's examples: "Hello" compressed, in a stored block, and with BFINAL set. */
    const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    const uint8_t hello_stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    const uint8_t hello_final[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    for (size_t piece = 1; piece <= 10; piece++) {
        CHECK(inflate_message(&inflater, hello, sizeof hello, piece, 1, 100, &out) == 0 && out.length == 5 &&
                  memcmp(out.bytes, "Hello", 5) == 0 && !out.offset_errors && inflater.length == 5,
              "Hello in pieces of %zu", piece);
        CHECK(inflate_message(&inflater, hello_stored, sizeof hello_stored, piece, 1, 100, &out) == 0 &&
                  out.length == 5 && memcmp(out.bytes, "Hello", 5) == 0,
              "Hello stored, pieces of %zu", piece);
        CHECK(inflate_message(&inflater, hello_final, sizeof hello_final, piece, 1, 100, &out) == 0 &&
                  out.length == 5 && memcmp(out.bytes, "Hello", 5) == 0,
              "Hello with BFINAL, pieces of %zu", piece);
    }
    /* 7.2.3.2: with the server's context kept, the second "Hello" refers back to the first. */
    const uint8_t hello_again[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    CHECK(inflate_message(&inflater, hello, sizeof hello, 7, 0, 100, &out) == 0 &&
              inflate_message(&inflater, hello_again, sizeof hello_again, 5, 0, 100, &out) == 0 && out.length == 5 &&
              memcmp(out.bytes, "Hello", 5) == 0,
          "Hello twice with context takeover");
    pmd_inflater_end(&inflater);
    pmd_inflater_init(&inflater);

    /* Our compressor gives the RFC's bytes for "Hello", and what it makes of a chat history page comes back whole
     * from every split. */
    struct pmd_deflater deflater;
    CHECK(pmd_deflater_init(&deflater, 6, 15) == 0, "deflater");
    uint8_t *compressed = NULL;
    size_t capacity = 0;
    size_t length = pmd_compress(&deflater, (const uint8_t *)"Hello", 5, &compressed, &capacity);
    CHECK(length == sizeof hello && memcmp(compressed, hello, sizeof hello) == 0, "Hello compressed (%zu bytes)", length);
    struct payload page;
    CHECK(payload_builtin("chat16k", &page) == 0, "chat16k");
    length = pmd_compress(&deflater, page.bytes, page.length, &compressed, &capacity);
    CHECK(length != (size_t)-1 && length < page.length / 2, "chat16k compresses (%zu of %zu bytes)", length,
          page.length);
    const size_t pieces[] = {1, 2, 5, 100, 4096, 1 << 20};
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
        int result = inflate_message(&inflater, compressed, length, pieces[p], 1, page.length + 1, &out);
        CHECK(result == 0 && out.length == page.length && memcmp(out.bytes, page.bytes, page.length) == 0 &&
                  !out.offset_errors,
              "chat16k in pieces of %zu: result %d, %zu bytes", pieces[p], result, out.length);
    }
    /* Output past the limit stops inflating early; the inflater is ready for the next message. */
    CHECK(inflate_message(&inflater, compressed, length, 4096, 1, page.length - 1, &out) == PMD_ERROR_TOO_LARGE &&
              out.length <= page.length - 1,
          "limit");
    static uint8_t zeros[1 << 20];
    length = pmd_compress(&deflater, zeros, sizeof zeros, &compressed, &capacity);
    CHECK(inflate_message(&inflater, compressed, length, length, 1, 65536, &out) == PMD_ERROR_TOO_LARGE &&
              out.length <= 65536,
          "1 MiB of zeros in %zu bytes stops at the 64 KiB limit", length);
    CHECK(inflate_message(&inflater, hello, sizeof hello, 3, 1, 100, &out) == 0 && out.length == 5,
          "next message after an error");
    const uint8_t reserved_block_type[] = {0xff, 0xff, 0xff};
    CHECK(inflate_message(&inflater, reserved_block_type, sizeof reserved_block_type, 3, 1, 100, &out) ==
              PMD_ERROR_CORRUPT,
          "corrupt deflate data");
    free(compressed);
    free(page.bytes);
    pmd_deflater_end(&deflater);
    pmd_inflater_end(&inflater);
}

static void test_payloads(void)
{
    struct payload small, page, again;
    CHECK(payload_builtin("chat300", &small) == 0 && small.length >= 280 && small.length <= 320,
          "chat300 is %zu bytes", small.length);
    CHECK(memcmp(small.bytes, "{\"type\":\"message\",", 18) == 0 && small.bytes[small.length - 1] == '}',
          "chat300 is a message event");
    CHECK(small.slot + PAYLOAD_SLOT_LENGTH <= small.length &&
              memcmp(small.bytes + small.slot - 9, "\"ref\":\"c-", 9) == 0,
          "chat300's slot is its ref");
    CHECK(payload_builtin("chat16k", &page) == 0 && page.length > 15 * 1024 && page.length <= 16 * 1024,
          "chat16k is %zu bytes", page.length);
    CHECK(memcmp(page.bytes, "{\"type\":\"history\",", 18) == 0 && page.slot + PAYLOAD_SLOT_LENGTH < page.length,
          "chat16k is a history page with a slot");
    CHECK(payload_builtin("chat16k", &again) == 0 && again.length == page.length &&
              memcmp(again.bytes, page.bytes, page.length) == 0,
          "the same bytes every time");
    CHECK(payload_builtin("nothing", &again) != 0, "unknown name");
    free(small.bytes);
    free(page.bytes);
}

static void test_decoder_rejects_protocol_violations(void)
{
    const uint8_t masked[] = {0x81, 0x81, 1, 2, 3, 4, 'a'};
    CHECK(decode_bytes(masked, sizeof masked) == WS_ERROR_MASKED_BY_SERVER, "masked server frame");
    const uint8_t reserved_bit[] = {0xC1, 0x00};
    CHECK(decode_bytes(reserved_bit, sizeof reserved_bit) == WS_ERROR_RESERVED_BITS, "RSV1");
    const uint8_t reserved_opcode[] = {0x83, 0x00};
    CHECK(decode_bytes(reserved_opcode, sizeof reserved_opcode) == WS_ERROR_RESERVED_OPCODE, "opcode 3");
    const uint8_t reserved_control[] = {0x8B, 0x00};
    CHECK(decode_bytes(reserved_control, sizeof reserved_control) == WS_ERROR_RESERVED_OPCODE, "opcode 11");
    const uint8_t fragmented_ping[] = {0x09, 0x00};
    CHECK(decode_bytes(fragmented_ping, sizeof fragmented_ping) == WS_ERROR_FRAGMENTED_CONTROL, "fragmented ping");
    const uint8_t long_ping[] = {0x89, 126, 0, 126};
    CHECK(decode_bytes(long_ping, sizeof long_ping) == WS_ERROR_CONTROL_TOO_LONG, "126-byte ping");
    const uint8_t orphan_continuation[] = {0x80, 0x00};
    CHECK(decode_bytes(orphan_continuation, sizeof orphan_continuation) == WS_ERROR_UNEXPECTED_CONTINUATION,
          "continuation without a message");
    const uint8_t interleaved[] = {0x01, 0x01, 'a', 0x81, 0x01, 'b'};
    CHECK(decode_bytes(interleaved, sizeof interleaved) == WS_ERROR_EXPECTED_CONTINUATION, "text inside text");
    const uint8_t long_form_short[] = {0x82, 126, 0, 100};
    CHECK(decode_bytes(long_form_short, sizeof long_form_short) == WS_ERROR_LENGTH_NOT_MINIMAL, "16-bit for 100");
    const uint8_t huge_form_short[] = {0x82, 127, 0, 0, 0, 0, 0, 0, 0x03, 0xE8};
    CHECK(decode_bytes(huge_form_short, sizeof huge_form_short) == WS_ERROR_LENGTH_NOT_MINIMAL, "64-bit for 1000");
    const uint8_t top_bit[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    CHECK(decode_bytes(top_bit, sizeof top_bit) == WS_ERROR_LENGTH_TOO_LARGE, "64-bit length with top bit");
}

static void test_masking(void)
{
    uint8_t source[1000], masked[1000], back[1000];
    for (size_t i = 0; i < sizeof source; i++)
        source[i] = (uint8_t)(i * 31 + 1);
    const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    for (size_t phase = 0; phase < 8; phase++) {
        for (size_t count = 0; count < 40; count++) {
            ws_mask_copy(masked, source, count, key, phase);
            int same = 1;
            for (size_t i = 0; i < count; i++)
                same &= masked[i] == (source[i] ^ key[(phase + i) % 4]);
            CHECK(same, "mask of %zu bytes at phase %zu", count, phase);
        }
    }
    /* Masking in two pieces equals masking at once, and masking twice gives the original back. */
    ws_mask_copy(masked, source, 1000, key, 0);
    ws_mask_copy(back, masked, 333, key, 0);
    ws_mask_copy(back + 333, masked + 333, 667, key, 333);
    CHECK(memcmp(back, source, sizeof source) == 0, "unmask in two pieces");
    memcpy(back, source, sizeof source);
    ws_mask_copy(back, back, sizeof back, key, 0);
    CHECK(memcmp(back, masked, sizeof back) == 0, "mask in place");
}

static void test_frame_header(void)
{
    uint8_t header[WS_MAX_HEADER];
    const uint8_t key[4] = {1, 2, 3, 4};
    CHECK(ws_frame_header(header, 1, WS_TEXT, 125, key) == 6 && header[0] == 0x81 && header[1] == (0x80 | 125),
          "125 masked");
    CHECK(ws_frame_header(header, 1, WS_BINARY, 126, key) == 8 && header[1] == (0x80 | 126) && header[2] == 0 &&
              header[3] == 126 && header[4] == 1,
          "126 masked");
    CHECK(ws_frame_header(header, 0, WS_BINARY, 65536, key) == 14 && header[0] == 0x02 && header[1] == 0xFF &&
              header[7] == 1 && header[8] == 0 && header[9] == 0,
          "65536 masked");
    CHECK(ws_frame_header(header, 1, WS_CLOSE, 2, NULL) == 2 && header[1] == 2, "unmasked close");
}

static void test_sha1_and_accept(void)
{
    uint8_t digest[20];
    char hex[41];
    sha1("abc", 3, digest);
    for (int i = 0; i < 20; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
    CHECK(strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0, "sha1(abc) = %s", hex);
    const char *long_text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: two blocks */
    sha1(long_text, strlen(long_text), digest);
    for (int i = 0; i < 20; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
    CHECK(strcmp(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1") == 0, "sha1(56 bytes) = %s", hex);
    char accept[29];
    websocket_accept("dGhlIHNhbXBsZSBub25jZQ==", accept); /* the example of RFC 6455 section 1.3 */
    CHECK(strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "accept = %s", accept);
    char text[16];
    base64_encode((const uint8_t *)"a", 1, text);
    CHECK(strcmp(text, "YQ==") == 0, "base64(a) = %s", text);
    base64_encode((const uint8_t *)"ab", 2, text);
    CHECK(strcmp(text, "YWI=") == 0, "base64(ab) = %s", text);
}

static void test_histogram(void)
{
    struct histogram *h = calloc(1, sizeof *h);
    for (uint64_t v = 1; v <= 100000; v++)
        histogram_record(h, v * 1000); /* 1 us .. 100 ms, uniform */
    uint64_t p50 = histogram_quantile(h, 0.5), p99 = histogram_quantile(h, 0.99);
    CHECK(p50 > 49000000 && p50 < 51000000, "p50 = %llu", (unsigned long long)p50);
    CHECK(p99 > 97500000 && p99 < 100500000, "p99 = %llu", (unsigned long long)p99);
    CHECK(histogram_quantile(h, 1.0) <= 100000000 && h->max == 100000000, "max");
    for (uint64_t v = 0; v < 5000; v++)
        CHECK(histogram_index(v) < HISTOGRAM_BUCKETS && (v < 1 || histogram_index(v) >= histogram_index(v - 1)),
              "index of %llu", (unsigned long long)v);
    CHECK(histogram_index(UINT64_MAX) < HISTOGRAM_BUCKETS, "index of the largest value");
    free(h);
}

int main(void)
{
    test_decoder_all_length_forms_and_splits();
    test_decoder_rejects_protocol_violations();
    test_decoder_compressed_messages();
    test_negotiation();
    test_inflate_and_compress();
    test_payloads();
    test_masking();
    test_frame_header();
    test_sha1_and_accept();
    test_histogram();
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("frame tests: all passed\n");
    return 0;
}
