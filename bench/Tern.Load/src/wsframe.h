/* The client side of RFC 6455 framing, with no I/O: encode masked frames, decode server frames from any
 * split of the byte stream (a header cut across reads, many frames in one read, payloads streamed through
 * without being buffered, so a 64 MiB message costs no memory here). With permessage-deflate negotiated
 * (RFC 7692), RSV1 marks a compressed message: allowed on a message's first frame only. */
#ifndef TERN_LOAD_WSFRAME_H
#define TERN_LOAD_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_CONTINUATION = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xA,
};

enum ws_decode_error {
    WS_ERROR_RESERVED_BITS = -1,
    WS_ERROR_MASKED_BY_SERVER = -2,
    WS_ERROR_RESERVED_OPCODE = -3,
    WS_ERROR_FRAGMENTED_CONTROL = -4,
    WS_ERROR_CONTROL_TOO_LONG = -5,
    WS_ERROR_UNEXPECTED_CONTINUATION = -6,
    WS_ERROR_EXPECTED_CONTINUATION = -7,
    WS_ERROR_LENGTH_NOT_MINIMAL = -8,
    WS_ERROR_LENGTH_TOO_LARGE = -9,
    WS_ERROR_COMPRESSED_NOT_FIRST = -10,
};

/* The largest header a frame can have: 2 + 8 bytes of length + 4 bytes of masking key. */
#define WS_MAX_HEADER 14

struct ws_decoder {
    uint64_t frame_remaining; /* payload bytes of the current frame not yet seen */
    uint64_t message_length;  /* data bytes of the current message seen so far */
    uint8_t header[WS_MAX_HEADER];
    uint8_t header_length; /* bytes of a header cut across reads, kept until it is whole */
    uint8_t in_payload;
    uint8_t opcode;
    uint8_t fin;
    uint8_t message_opcode; /* WS_TEXT or WS_BINARY while a message is open, else 0 */
    uint8_t compression_negotiated; /* set by the owner: RSV1 may mark a compressed message */
    uint8_t message_compressed;     /* the open message had RSV1 on its first frame */
    uint8_t control_length;
    uint8_t control[125];
};

/* What the decoder reports. A hook returns 0 to go on, anything else to stop decoding at once
 * (ws_decode then returns that value). */
struct ws_hooks {
    /* A piece of a data message's payload (as sent: compressed when the decoder's message_compressed is set),
     * which starts at byte offset of the message. */
    void (*data)(void *context, const uint8_t *bytes, size_t count, uint64_t offset);
    /* The last frame of a data message arrived; length is the whole message's payload as sent. */
    int (*message)(void *context, int opcode, uint64_t length, int compressed);
    /* A whole control frame (close, ping or pong). */
    int (*control)(void *context, int opcode, const uint8_t *payload, size_t length);
};

/* Feeds received bytes. Returns 0 when all were consumed, a negative enum ws_decode_error when the server
 * broke the protocol (the connection must then be failed), or a hook's non-zero result. */
int ws_decode(struct ws_decoder *decoder, const uint8_t *bytes, size_t count, const struct ws_hooks *hooks,
              void *context);

const char *ws_decode_error_text(int error);

/* Writes a frame header with the masking key (mask may be NULL for an unmasked frame, as servers send) and
 * returns its length. `compressed` sets RSV1 (permessage-deflate, on a message's first frame only). */
size_t ws_frame_header(uint8_t *out, int fin, int opcode, uint64_t payload_length, const uint8_t *mask);
size_t ws_frame_header_rsv1(uint8_t *out, int fin, int compressed, int opcode, uint64_t payload_length,
                            const uint8_t *mask);

/* dst[i] = src[i] ^ mask[(phase + i) % 4]: masks (or unmasks) a run of payload that starts phase bytes into it. */
void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t count, const uint8_t mask[4], size_t phase);

#endif
