#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

static SSL_CTX *context;
static __thread char last_error[160];

int tls_setup(int max_version, int release_buffers, const char *suites)
{
    context = SSL_CTX_new(TLS_client_method());
    if (!context) {
        fprintf(stderr, "tern-load: cannot create a TLS context\n");
        return -1;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    if (max_version)
        SSL_CTX_set_max_proto_version(context, max_version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
    /* Chrome's order by default: AES-128-GCM first. Servers choose differently from the same offer (OpenSSL's
     * default follows the client's order; .NET and Node prefer AES-256-GCM), so a comparison offers one suite. */
    if (SSL_CTX_set_ciphersuites(context, suites ? suites : TLS_DEFAULT_SUITES) != 1 ||
        SSL_CTX_set_cipher_list(context, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                         "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                         "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
        fprintf(stderr, "tern-load: OpenSSL refused the cipher suites %s\n", suites ? suites : TLS_DEFAULT_SUITES);
        return -1;
    }
    /* Partial writes and a buffer that may move between retries: the output buffer is appended to (and may be
     * reallocated) while a write waits for the socket. */
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (release_buffers)
        SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
    else
        SSL_CTX_set_read_ahead(context, 1); /* fewer recv() calls: as much as the socket holds at once */
    /* A server that closes TCP without close_notify (after the WebSocket close handshake, most do) is an
     * ordinary end of stream here, not an error. */
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* No session resumption: every connection in connect mode pays a full handshake, like new visitors. */
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
    return 0;
}

SSL *tls_attach(int fd)
{
    SSL *ssl = SSL_new(context);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

static void remember_error(const char *what, int code)
{
    unsigned long queued = ERR_get_error();
    char detail[120] = "";
    if (queued)
        ERR_error_string_n(queued, detail, sizeof detail);
    else if (code == SSL_ERROR_SYSCALL)
        snprintf(detail, sizeof detail, "%s", errno ? strerror(errno) : "connection closed");
    snprintf(last_error, sizeof last_error, "%s: %s", what, detail[0] ? detail : "TLS failure");
    ERR_clear_error();
}

int tls_handshake(SSL *ssl)
{
    ERR_clear_error();
    int result = SSL_do_handshake(ssl);
    if (result == 1)
        return 1;
    int code = SSL_get_error(ssl, result);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
        return 0;
    remember_error("TLS handshake", code);
    return -1;
}

/* Maps an SSL_read/SSL_write failure to recv()/send()'s conventions. */
static ssize_t failure(SSL *ssl, int result, const char *what)
{
    int code = SSL_get_error(ssl, result);
    switch (code) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0; /* close_notify */
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
            remember_error(what, code);
            errno = ECONNRESET;
            return -1;
        }
        remember_error(what, code);
        return -1; /* errno says what the socket call said */
    default:
        remember_error(what, code);
        errno = EPROTO;
        return -1;
    }
}

ssize_t tls_recv(SSL *ssl, void *buffer, size_t length)
{
    ERR_clear_error();
    errno = 0;
    size_t done = 0;
    int result = SSL_read_ex(ssl, buffer, length, &done);
    if (result == 1)
        return (ssize_t)done;
    return failure(ssl, result, "TLS read");
}

ssize_t tls_send(SSL *ssl, const void *buffer, size_t length)
{
    ERR_clear_error();
    errno = 0;
    size_t done = 0;
    int result = SSL_write_ex(ssl, buffer, length, &done);
    if (result == 1)
        return (ssize_t)done;
    return failure(ssl, result, "TLS write");
}

void tls_free(SSL *ssl) { SSL_free(ssl); }

const char *tls_error(void) { return last_error[0] ? last_error : "TLS failure"; }

void tls_describe(SSL *ssl, char *out, size_t size)
{
    snprintf(out, size, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}
