/* TLS for the load generator's connections (OpenSSL), non-blocking over its epoll loops: the calls below behave
 * like recv() and send() on a non-blocking socket (-1 with errno EAGAIN when OpenSSL waits for the socket), so the
 * loops treat a TLS connection like a plain one. The server's certificate is not verified: tern-load only talks
 * to loopback, to servers started with throwaway self-signed certificates. */
#ifndef TERN_LOAD_TLS_H
#define TERN_LOAD_TLS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_st SSL;

/* The TLS 1.3 suites offered unless told otherwise, in Chrome's order. */
#define TLS_DEFAULT_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* Creates the shared client context (TLS 1.2 and 1.3; `max_version` 12 or 13, 0 for OpenSSL's default; `suites`
 * the TLS 1.3 cipher suites to offer, colon-separated, NULL for TLS_DEFAULT_SUITES).
 * `release_buffers`: idle connections give their 16 KiB record buffers back (for hold and connect modes, where
 * there are many of them; a busy connection would only pay for freeing and allocating them again).
 * Returns 0, or -1 after printing why. */
int tls_setup(int max_version, int release_buffers, const char *suites);

/* A TLS session over a connected socket, or NULL (out of memory). */
SSL *tls_attach(int fd);

/* Advances the handshake: 1 when done, 0 while it waits for the socket, -1 when it failed (tls_error says why). */
int tls_handshake(SSL *ssl);

/* Like recv()/send(): bytes moved, 0 for the end of the stream (recv), or -1 with errno EAGAIN (waiting for the
 * socket), ECONNRESET (the peer went away) or EPROTO (a TLS failure: tls_error says which). */
ssize_t tls_recv(SSL *ssl, void *buffer, size_t length);
ssize_t tls_send(SSL *ssl, const void *buffer, size_t length);

void tls_free(SSL *ssl);

/* The last failure on this thread, for an error message. */
const char *tls_error(void);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384": what a finished handshake chose. */
void tls_describe(SSL *ssl, char *out, size_t size);

#endif
