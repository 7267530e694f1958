#include "wsframe.h"

#include <string.h>

/* A header's full size is known from its second byte. */
static size_t header_size(const uint8_t *header)
{
    size_t size = 2;
    uint8_t length = header[1] & 0x7F;
    if (length == 126)
        size += 2;
    else if (length == 127)
        size += 8;
    if (header[1] & 0x80)
        size += 4;
    return size;
}

static int begin_frame(struct ws_decoder *d, const uint8_t *header)
{
    uint8_t first = header[0], second = header[1];
    int rsv1 = (first & 0x40) != 0;
    if ((first & 0x30) || (rsv1 && !d->compression_negotiated))
        return WS_ERROR_RESERVED_BITS; /* no extension that defines them was negotiated */
    if (second & 0x80)
        return WS_ERROR_MASKED_BY_SERVER; /* RFC 6455 5.1: the client must fail a masked server frame */
    int opcode = first & 0x0F;
    int fin = first >> 7;

    uint64_t length = second & 0x7F;
    if (length == 126) {
        length = (uint64_t)header[2] << 8 | header[3];
        if (length < 126)
            return WS_ERROR_LENGTH_NOT_MINIMAL;
    } else if (length == 127) {
        length = 0;
        for (int i = 0; i < 8; i++)
            length = length << 8 | header[2 + i];
        if (length >> 63)
            return WS_ERROR_LENGTH_TOO_LARGE;
        if (length < 65536)
            return WS_ERROR_LENGTH_NOT_MINIMAL;
    }

    if (rsv1 && (opcode == WS_CONTINUATION || opcode >= 0x8) && opcode <= WS_PONG)
        return WS_ERROR_COMPRESSED_NOT_FIRST; /* RFC 7692 6: control frames and continuations never set it */
    if (opcode >= 0x8) {
        if (opcode > WS_PONG)
            return WS_ERROR_RESERVED_OPCODE;
        if (!fin)
            return WS_ERROR_FRAGMENTED_CONTROL;
        if (length > 125)
            return WS_ERROR_CONTROL_TOO_LONG;
        d->control_length = 0;
    } else if (opcode == WS_CONTINUATION) {
        if (!d->message_opcode)
            return WS_ERROR_UNEXPECTED_CONTINUATION;
    } else if (opcode == WS_TEXT || opcode == WS_BINARY) {
        if (d->message_opcode)
            return WS_ERROR_EXPECTED_CONTINUATION;
        d->message_opcode = (uint8_t)opcode;
        d->message_compressed = (uint8_t)rsv1;
        d->message_length = 0;
    } else {
        return WS_ERROR_RESERVED_OPCODE;
    }

    d->opcode = (uint8_t)opcode;
    d->fin = (uint8_t)fin;
    d->frame_remaining = length;
    d->in_payload = 1;
    return 0;
}

static int end_frame(struct ws_decoder *d, const struct ws_hooks *hooks, void *context)
{
    d->in_payload = 0;
    if (d->opcode >= 0x8)
        return hooks->control(context, d->opcode, d->control, d->control_length);
    if (!d->fin)
        return 0;
    int opcode = d->message_opcode, compressed = d->message_compressed;
    uint64_t length = d->message_length;
    d->message_opcode = 0;
    d->message_compressed = 0;
    d->message_length = 0;
    return hooks->message(context, opcode, length, compressed);
}

int ws_decode(struct ws_decoder *d, const uint8_t *bytes, size_t count, const struct ws_hooks *hooks, void *context)
{
    while (count > 0) {
        if (!d->in_payload) {
            const uint8_t *header;
            size_t size;
            if (d->header_length == 0 && count >= 2 && count >= (size = header_size(bytes))) {
                header = bytes; /* the common case: the whole header is in this read, no copy */
                bytes += size;
                count -= size;
            } else {
                while (count > 0) {
                    d->header[d->header_length++] = *bytes++;
                    count--;
                    if (d->header_length >= 2 && d->header_length == header_size(d->header))
                        break;
                }
                if (d->header_length < 2 || d->header_length < header_size(d->header))
                    return 0;
                header = d->header;
                d->header_length = 0;
            }
            int result = begin_frame(d, header);
            if (result)
                return result;
            if (d->frame_remaining == 0 && (result = end_frame(d, hooks, context)))
                return result;
            continue;
        }

        size_t take = count < d->frame_remaining ? count : (size_t)d->frame_remaining;
        if (d->opcode >= 0x8) {
            memcpy(d->control + d->control_length, bytes, take);
            d->control_length = (uint8_t)(d->control_length + take);
        } else {
            hooks->data(context, bytes, take, d->message_length);
            d->message_length += take;
        }
        bytes += take;
        count -= take;
        d->frame_remaining -= take;
        if (d->frame_remaining == 0) {
            int result = end_frame(d, hooks, context);
            if (result)
                return result;
        }
    }
    return 0;
}

const char *ws_decode_error_text(int error)
{
    switch (error) {
    case WS_ERROR_RESERVED_BITS: return "frame with reserved bits set";
    case WS_ERROR_MASKED_BY_SERVER: return "masked frame from the server";
    case WS_ERROR_RESERVED_OPCODE: return "reserved opcode";
    case WS_ERROR_FRAGMENTED_CONTROL: return "fragmented control frame";
    case WS_ERROR_CONTROL_TOO_LONG: return "control frame longer than 125 bytes";
    case WS_ERROR_UNEXPECTED_CONTINUATION: return "continuation frame outside a message";
    case WS_ERROR_EXPECTED_CONTINUATION: return "new data frame inside a fragmented message";
    case WS_ERROR_LENGTH_NOT_MINIMAL: return "payload length not in its minimal form";
    case WS_ERROR_LENGTH_TOO_LARGE: return "payload length with the top bit set";
    case WS_ERROR_COMPRESSED_NOT_FIRST: return "RSV1 (compressed) on a control or continuation frame";
    default: return "unknown decoding error";
    }
}

size_t ws_frame_header(uint8_t *out, int fin, int opcode, uint64_t payload_length, const uint8_t *mask)
{
    return ws_frame_header_rsv1(out, fin, 0, opcode, payload_length, mask);
}

size_t ws_frame_header_rsv1(uint8_t *out, int fin, int compressed, int opcode, uint64_t payload_length,
                            const uint8_t *mask)
{
    size_t size = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | (opcode & 0x0F));
    uint8_t mask_bit = mask ? 0x80 : 0;
    if (payload_length < 126) {
        out[1] = (uint8_t)(mask_bit | payload_length);
    } else if (payload_length < 65536) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(payload_length >> 8);
        out[3] = (uint8_t)payload_length;
        size = 4;
    } else {
        out[1] = mask_bit | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(payload_length >> (56 - 8 * i));
        size = 10;
    }
    if (mask) {
        memcpy(out + size, mask, 4);
        size += 4;
    }
    return size;
}

void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t count, const uint8_t mask[4], size_t phase)
{
    uint8_t rotated[8];
    for (int i = 0; i < 8; i++)
        rotated[i] = mask[(phase + (size_t)i) & 3];
    uint64_t wide;
    memcpy(&wide, rotated, 8);

    size_t i = 0;
    /* Eight bytes at a time; the compiler widens this to vector registers at -O3. */
    for (; i + 8 <= count; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= wide;
        memcpy(dst + i, &word, 8);
    }
    for (; i < count; i++)
        dst[i] = src[i] ^ rotated[i & 7];
}
