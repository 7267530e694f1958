/* What echo messages carry besides the default fill pattern: realistic JSON chat traffic for the permessage-deflate
 * scenarios (built in, shaped like Tern.Chat's events in docs/chat-protocol.md), or a file. Every payload has a
 * 16-character slot where the load generator writes each message's sequence number in hex. */
#ifndef TERN_LOAD_PAYLOAD_H
#define TERN_LOAD_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_SLOT_LENGTH 16

struct payload {
    uint8_t *bytes;
    size_t length;
    size_t slot; /* offset of the sequence-number slot */
};

/* "chat300": one live `message` event (about 300 bytes); "chat16k": a `history` page of such messages (about
 * 16 KiB). Returns 0, or -1 for an unknown name. Deterministic: the same bytes on every run. */
int payload_builtin(const char *name, struct payload *payload);

/* A file's bytes; the slot is the first run of 16 '0' characters in it, else its first 16 bytes. Returns 0, or
 * -1 after printing why. */
int payload_from_file(const char *path, struct payload *payload);

#endif
