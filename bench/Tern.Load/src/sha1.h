/* SHA-1 and Base64, only as much as the WebSocket opening handshake needs. */
#ifndef TERN_LOAD_SHA1_H
#define TERN_LOAD_SHA1_H

#include <stddef.h>
#include <stdint.h>

void sha1(const void *data, size_t len, uint8_t digest[20]);

/* Writes the padded Base64 text of data plus a terminating NUL; out needs 4 * ((len + 2) / 3) + 1 bytes. */
void base64_encode(const uint8_t *data, size_t len, char *out);

/* The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 section 4.2.2): 28 characters plus NUL. */
void websocket_accept(const char *key, char accept[29]);

#endif
