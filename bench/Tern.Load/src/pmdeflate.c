#include "pmdeflate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------- negotiation ---------- */

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* RFC 7230 tchar: what a token is made of. */
static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && is_space(*p))
        p++;
    return p;
}

static const char *token_end(const char *p, const char *end)
{
    while (p < end && is_token_char(*p))
        p++;
    return p;
}

/* "8".."15" with no leading zero; -1 otherwise. */
static int window_bits_value(const char *value, size_t length)
{
    if (length == 1 && value[0] >= '8' && value[0] <= '9')
        return value[0] - '0';
    if (length == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5')
        return 10 + value[1] - '0';
    return -1;
}

const char *pmd_parse(const char *text, size_t length, struct pmd_params *params)
{
    *params = (struct pmd_params){0, 0, -1, -1};
    const char *p = skip_space(text, text + length), *end = text + length;
    const char *name_end = token_end(p, end);
    if ((size_t)(name_end - p) != 18 || strncasecmp(p, "permessage-deflate", 18) != 0)
        return "not permessage-deflate (or more than one extension)";
    p = skip_space(name_end, end);
    while (p < end) {
        if (*p != ';')
            return "expected ';' between parameters";
        p = skip_space(p + 1, end);
        const char *name = p;
        p = token_end(p, end);
        size_t name_length = (size_t)(p - name);
        if (name_length == 0)
            return "empty parameter name";
        p = skip_space(p, end);
        char value[8];
        size_t value_length = 0;
        int has_value = 0;
        if (p < end && *p == '=') {
            has_value = 1;
            p = skip_space(p + 1, end);
            const char *start, *stop;
            if (p < end && *p == '"') { /* a quoted-string: its content must still be a valid token */
                start = ++p;
                while (p < end && *p != '"')
                    p++;
                if (p == end)
                    return "unterminated quoted value";
                stop = p++;
                if (token_end(start, stop) != stop)
                    return "quoted value that is not a token";
            } else {
                start = p;
                stop = p = token_end(p, end);
            }
            value_length = (size_t)(stop - start);
            if (value_length == 0 || value_length >= sizeof value)
                return "empty or overlong parameter value";
            memcpy(value, start, value_length);
        }
        p = skip_space(p, end);

#define NAME_IS(literal) (name_length == sizeof(literal) - 1 && strncasecmp(name, literal, name_length) == 0)
        if (NAME_IS("server_no_context_takeover") || NAME_IS("client_no_context_takeover")) {
            int *flag = NAME_IS("server_no_context_takeover") ? &params->server_no_context_takeover
                                                              : &params->client_no_context_takeover;
            if (*flag)
                return "a parameter appears twice";
            if (has_value)
                return "a no_context_takeover parameter with a value";
            *flag = 1;
        } else if (NAME_IS("server_max_window_bits") || NAME_IS("client_max_window_bits")) {
            int *bits = NAME_IS("server_max_window_bits") ? &params->server_max_window_bits
                                                          : &params->client_max_window_bits;
            if (*bits != -1)
                return "a parameter appears twice";
            if (!has_value) {
                *bits = 0;
            } else if ((*bits = window_bits_value(value, value_length)) < 0) {
                return "window bits outside 8..15";
            }
        } else {
            return "unknown parameter";
        }
#undef NAME_IS
    }
    return NULL;
}

const char *pmd_check_answer(const struct pmd_params *offer, const struct pmd_params *answer)
{
    if (answer->server_max_window_bits == 0 || answer->client_max_window_bits == 0)
        return "window bits without a value in the answer";
    if (offer->server_no_context_takeover && !answer->server_no_context_takeover)
        return "server_no_context_takeover offered but not in the answer";
    if (offer->server_max_window_bits > 0 &&
        (answer->server_max_window_bits < 0 || answer->server_max_window_bits > offer->server_max_window_bits))
        return "server_max_window_bits missing from the answer or larger than offered";
    if (answer->client_max_window_bits > 0) {
        if (offer->client_max_window_bits < 0)
            return "client_max_window_bits in the answer but not offered";
        if (offer->client_max_window_bits > 0 && answer->client_max_window_bits > offer->client_max_window_bits)
            return "client_max_window_bits larger than offered";
    }
    return NULL;
}

int pmd_client_window_bits(const struct pmd_params *answer)
{
    return answer->client_max_window_bits > 0 ? answer->client_max_window_bits : 15;
}

/* ---------- compression ---------- */

int pmd_deflater_init(struct pmd_deflater *d, int level, int window_bits)
{
    memset(d, 0, sizeof *d);
    /* Negative window bits: raw deflate, no zlib header or checksum (RFC 7692 7.2.1). zlib refuses 8 for raw
     * deflate; 9 would break a promise of 8, so the caller must not ask for it. */
    if (window_bits < 9 || window_bits > 15)
        return -1;
    if (deflateInit2(&d->z, level, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    d->ready = 1;
    return 0;
}

size_t pmd_compress(struct pmd_deflater *d, const uint8_t *message, size_t length, uint8_t **out, size_t *capacity)
{
    if (deflateReset(&d->z) != Z_OK)
        return (size_t)-1;
    size_t needed = deflateBound(&d->z, length) + 16; /* + the empty stored block of the sync flush */
    if (*capacity < needed) {
        uint8_t *grown = realloc(*out, needed);
        if (!grown)
            return (size_t)-1;
        *out = grown;
        *capacity = needed;
    }
    d->z.next_in = (Bytef *)message;
    d->z.avail_in = (uInt)length;
    d->z.next_out = *out;
    d->z.avail_out = (uInt)*capacity;
    /* A sync flush ends the message on a byte boundary with an empty stored block, 00 00 FF FF, which is
     * stripped; the receiver puts it back. */
    int result = deflate(&d->z, Z_SYNC_FLUSH);
    size_t produced = *capacity - d->z.avail_out;
    if (result != Z_OK || d->z.avail_in != 0 || produced < 4 || memcmp(*out + produced - 4, "\x00\x00\xff\xff", 4))
        return (size_t)-1;
    return produced - 4;
}

void pmd_deflater_end(struct pmd_deflater *d)
{
    if (d->ready)
        deflateEnd(&d->z);
    d->ready = 0;
}

/* ---------- inflation ---------- */

int pmd_inflater_init(struct pmd_inflater *i)
{
    memset(i, 0, sizeof *i);
    /* 15 bits decode whatever window the server used. */
    if (inflateInit2(&i->z, -15) != Z_OK)
        return PMD_ERROR_MEMORY;
    i->ready = 1;
    return 0;
}

/* Runs the inflater over `count` bytes; returns 0 or a pmd_inflate_error. */
static int run(struct pmd_inflater *i, const uint8_t *bytes, size_t count, uint64_t limit, uint8_t *buffer,
               size_t buffer_size, pmd_sink sink, void *context)
{
    i->z.next_in = (Bytef *)bytes;
    i->z.avail_in = (uInt)count;
    while (!i->ended) {
        i->z.next_out = buffer;
        i->z.avail_out = (uInt)buffer_size;
        int result = inflate(&i->z, Z_SYNC_FLUSH);
        size_t produced = buffer_size - i->z.avail_out;
        if (result == Z_STREAM_END)
            i->ended = 1;
        else if (result == Z_MEM_ERROR)
            return PMD_ERROR_MEMORY;
        else if (result != Z_OK && result != Z_BUF_ERROR)
            return PMD_ERROR_CORRUPT;
        if (produced) {
            if (i->produced + produced > limit)
                return PMD_ERROR_TOO_LARGE;
            sink(context, buffer, produced, i->produced);
            i->produced += produced;
        }
        /* Done with this input once zlib has taken all of it and had room to spare for what it holds back. */
        if (i->z.avail_in == 0 && i->z.avail_out != 0)
            break;
        if (result == Z_BUF_ERROR && produced == 0)
            break;
    }
    return 0;
}

int pmd_inflate(struct pmd_inflater *i, const uint8_t *bytes, size_t count, int last, int reset, uint64_t limit,
                uint8_t *buffer, size_t buffer_size, pmd_sink sink, void *context)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    int result = count ? run(i, bytes, count, limit, buffer, buffer_size, sink, context) : 0;
    if (result == 0 && last)
        result = run(i, tail, sizeof tail, limit, buffer, buffer_size, sink, context);
    if (last || result) {
        i->length = i->produced;
        i->produced = 0;
        /* A stream the server ended (BFINAL) cannot go on; otherwise a reset only when the server keeps no
         * context, so a server with context takeover is still followed. */
        if (reset || i->ended || result) {
            inflateReset(&i->z);
            i->ended = 0;
        }
    }
    return result;
}

void pmd_inflater_end(struct pmd_inflater *i)
{
    if (i->ready)
        inflateEnd(&i->z);
    i->ready = 0;
}

const char *pmd_error_text(int error)
{
    switch (error) {
    case PMD_ERROR_CORRUPT: return "compressed message is not valid deflate data";
    case PMD_ERROR_TOO_LARGE: return "compressed message inflates past the expected size";
    case PMD_ERROR_MEMORY: return "out of memory for zlib";
    default: return "unknown inflate error";
    }
}
