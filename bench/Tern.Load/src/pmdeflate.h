/* permessage-deflate (RFC 7692) on the client side, with no I/O: the server's answer to our offer checked,
 * whole messages compressed, and received messages inflated piece by piece with a bound on their size. */
#ifndef TERN_LOAD_PMDEFLATE_H
#define TERN_LOAD_PMDEFLATE_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* The offer every browser makes, minus the window-bits negotiation: neither side keeps its compression context
 * between messages, so the server needs no per-connection deflater and the client none either. */
#define PMD_DEFAULT_OFFER "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

/* The parameters of one permessage-deflate element (an offer or an answer). A window-bits parameter is -1 when
 * absent, 0 when present without a value (only an offer's client_max_window_bits may be), else its value. */
struct pmd_params {
    int server_no_context_takeover;
    int client_no_context_takeover;
    int server_max_window_bits;
    int client_max_window_bits;
};

/* Parses "permessage-deflate; param[=value]; ..." (a single element, values plain or quoted). Returns NULL, or
 * why the text is not a valid permessage-deflate element. */
const char *pmd_parse(const char *text, size_t length, struct pmd_params *params);

/* Checks the server's Sec-WebSocket-Extensions value against what we offered, as RFC 7692 section 7.1 asks
 * a client to; returns NULL or why the connection must be failed. */
const char *pmd_check_answer(const struct pmd_params *offer, const struct pmd_params *answer);

/* The window our compressor may use under an answer: client_max_window_bits if the server set it, else 15. */
int pmd_client_window_bits(const struct pmd_params *answer);

/* A compressor for whole messages: each is compressed on its own (no context taken over from the one before),
 * which every negotiation allows. */
struct pmd_deflater {
    z_stream z;
    int ready;
};

int pmd_deflater_init(struct pmd_deflater *d, int level, int window_bits);
/* Compresses a message into *out (grown with realloc as needed), without the final 00 00 FF FF that RFC 7692
 * 7.2.1 removes. Returns the compressed length, or (size_t)-1 on a zlib failure. */
size_t pmd_compress(struct pmd_deflater *d, const uint8_t *message, size_t length, uint8_t **out, size_t *capacity);
void pmd_deflater_end(struct pmd_deflater *d);

/* An inflater for one connection's received messages, fed each compressed piece as it arrives. */
struct pmd_inflater {
    z_stream z;
    int ready;
    int ended;         /* the server ended the deflate stream (a BFINAL block): ignore what follows */
    uint64_t produced; /* bytes of the current message inflated so far */
    uint64_t length;   /* after a message's last piece: its inflated length */
};

enum pmd_inflate_error {
    PMD_ERROR_CORRUPT = -1,   /* not a valid deflate stream */
    PMD_ERROR_TOO_LARGE = -2, /* would inflate past the limit */
    PMD_ERROR_MEMORY = -3,
};

/* Where inflated bytes go: a piece that starts `offset` bytes into the message. */
typedef void (*pmd_sink)(void *context, const uint8_t *bytes, size_t count, uint64_t offset);

int pmd_inflater_init(struct pmd_inflater *i);
/* Inflates a piece of a compressed message through `buffer` into `sink`; `last` marks the end of the message
 * (the stripped 00 00 FF FF is put back then). Output past `limit` bytes stops it with PMD_ERROR_TOO_LARGE
 * after at most `limit` + `buffer_size` bytes, so a decompression bomb costs little. After the last piece,
 * `length` is the message's inflated length; the next message starts at offset 0 (and, when `reset` is set, as
 * the server promised with server_no_context_takeover, from an empty window). */
int pmd_inflate(struct pmd_inflater *i, const uint8_t *bytes, size_t count, int last, int reset, uint64_t limit,
                uint8_t *buffer, size_t buffer_size, pmd_sink sink, void *context);
void pmd_inflater_end(struct pmd_inflater *i);

const char *pmd_error_text(int error);

#endif
