#define _GNU_SOURCE /* memmem */
#include "payload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- a growing text buffer ---------- */

struct text {
    char *bytes;
    size_t length, capacity;
};

static void put(struct text *t, const char *format, ...)
{
    for (;;) {
        va_list args;
        va_start(args, format);
        int needed = vsnprintf(t->bytes + t->length, t->capacity - t->length, format, args);
        va_end(args);
        if (needed >= 0 && (size_t)needed < t->capacity - t->length) {
            t->length += (size_t)needed;
            return;
        }
        t->capacity = t->capacity * 2 + (size_t)needed + 64;
        t->bytes = realloc(t->bytes, t->capacity);
        if (!t->bytes) {
            fprintf(stderr, "tern-load: out of memory\n");
            exit(1);
        }
    }
}

static void append(struct text *t, const void *bytes, size_t count)
{
    if (t->capacity - t->length < count) {
        t->capacity = (t->length + count) * 2;
        t->bytes = realloc(t->bytes, t->capacity);
        if (!t->bytes) {
            fprintf(stderr, "tern-load: out of memory\n");
            exit(1);
        }
    }
    memcpy(t->bytes + t->length, bytes, count);
    t->length += count;
}

/* ---------- chat-like content ---------- */

static uint32_t next(uint32_t *state) /* xorshift32: fixed seed, so the payload is the same on every run */
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static const char *const people[][2] = {
    {"alice", "Alice Liddell"}, {"bob", "Bob Marley"},    {"carol", "Carol Danvers"}, {"dave", "Dave Grohl"},
    {"erin", "Erin Brockovich"}, {"frank", "Frank Ocean"}, {"grace", "Grace Hopper"},  {"heidi", "Heidi Klum"},
};
#define PEOPLE (sizeof people / sizeof people[0])

/* Common chat words: texts made of them compress about as well as people's messages do (not as well as one
 * sentence repeated would). */
static const char *const words[] = {
    "the", "a", "to", "and", "I", "you", "it", "is", "that", "of", "in", "we", "for", "on", "this", "be", "can",
    "just", "so", "have", "but", "not", "with", "are", "do", "it's", "I'm", "what", "was", "if", "at", "my", "get",
    "think", "yes", "no", "ok", "thanks", "now", "will", "there", "about", "know", "like", "one", "up", "out",
    "all", "go", "they", "me", "your", "would", "should", "time", "today", "tomorrow", "meeting", "deploy", "build",
    "test", "tests", "branch", "merge", "review", "fix", "bug", "issue", "server", "client", "latency", "memory",
    "release", "version", "docs", "link", "check", "looks", "good", "great", "sure", "maybe", "later", "lunch",
    "coffee", "back", "minutes", "hour", "again", "still", "already", "after", "before", "morning", "afternoon",
    "weekend", "please", "sorry", "right", "left", "new", "old", "last", "next", "first", "works", "broken",
    "failing", "passing", "green", "red", "CI", "PR", "config", "logs", "error", "timeout", "retry", "cache",
    "database", "query", "index", "slow", "fast", "numbers", "benchmark", "graph", "dashboard", "alert", "on-call",
    "customer", "ticket", "plan", "sprint", "demo", "slides", "call", "room", "channel", "message", "question",
    "answer", "idea", "agree", "really", "probably", "definitely", "anyone", "someone", "everyone", "here", "there",
    "when", "where", "why", "how", "which", "could", "did", "does", "done", "doing", "going", "looking", "trying",
    "need", "want", "see", "said", "say", "tell", "ask", "use", "using", "make", "made", "take", "let's", "help",
    "wait", "start", "stop", "run", "running", "ran", "push", "pull", "ship", "land", "landed", "rollback",
};
#define WORDS (sizeof words / sizeof words[0])

static void put_text(struct text *t, uint32_t *random, const char *mention)
{
    unsigned count = 6 + next(random) % 28;
    int sentence_start = 1;
    if (mention)
        put(t, "@%s ", mention);
    for (unsigned i = 0; i < count; i++) {
        const char *word = words[next(random) % WORDS];
        if (sentence_start && word[0] >= 'a' && word[0] <= 'z')
            put(t, "%c%s", word[0] - 'a' + 'A', word + 1);
        else
            put(t, "%s", word);
        sentence_start = 0;
        uint32_t roll = next(random) % 16;
        if (i + 1 == count)
            put(t, "%s", roll < 10 ? "." : roll < 13 ? "?" : roll < 15 ? "!" : " :)");
        else if (roll == 0)
            put(t, ", ");
        else if (roll == 1) {
            put(t, ". ");
            sentence_start = 1;
        } else
            put(t, " ");
    }
}

/* One `message` event as Tern.Chat writes it (System.Text.Json, camelCase, null fields left out). */
static void put_message(struct text *t, uint32_t *random, long id, int live)
{
    unsigned author = next(random) % PEOPLE;
    const char *mention = next(random) % 5 == 0 ? people[(author + 1 + next(random) % (PEOPLE - 1)) % PEOPLE][0] : NULL;
    unsigned seconds = 7 * 3600 + (unsigned)id % 3600 * 3 + next(random) % 3;
    put(t, "{\"type\":\"message\",\"id\":%ld,\"conversation\":7,\"author\":\"%s\",\"authorName\":\"%s\",\"text\":\"", id,
        people[author][0], people[author][1]);
    put_text(t, random, mention);
    put(t, "\",\"time\":\"2026-12-03T%02u:%02u:%02u.%03uZ\"", seconds / 3600, seconds / 60 % 60, seconds % 60,
        next(random) % 1000);
    if (next(random) % 12 == 0)
        put(t, ",\"edited\":\"2026-12-03T%02u:%02u:%02u.%03uZ\"", seconds / 3600, (seconds / 60 + 1) % 60, seconds % 60,
            next(random) % 1000);
    if (mention)
        put(t, ",\"mentions\":[\"%s\"]", mention);
    if (live)
        put(t, ",\"ref\":\"c-%0*d\"", PAYLOAD_SLOT_LENGTH, 0);
    put(t, "}");
}

/* The text becomes the payload; its slot is its first run of 16 '0's, else its start. */
static int hand_over(struct text *t, struct payload *payload)
{
    static const char zeros[PAYLOAD_SLOT_LENGTH + 1] = "0000000000000000";
    const char *found = memmem(t->bytes, t->length, zeros, PAYLOAD_SLOT_LENGTH);
    payload->bytes = (uint8_t *)t->bytes;
    payload->length = t->length;
    payload->slot = found ? (size_t)(found - t->bytes) : 0;
    return 0;
}

int payload_builtin(const char *name, struct payload *payload)
{
    struct text t = {0};
    uint32_t random = 0x9e3779b9u;
    if (strcmp(name, "chat300") == 0) {
        /* Texts of the usual length, so the whole event is about 300 bytes. */
        long id = 48213;
        for (;;) {
            t.length = 0;
            put_message(&t, &random, id++, 1);
            if (t.length >= 280 && t.length <= 320)
                break;
        }
    } else if (strcmp(name, "chat16k") == 0) {
        /* A page of history as a client gets it when it opens a busy room, cut at about 16 KiB. */
        put(&t, "{\"type\":\"history\",\"conversation\":7,\"messages\":[");
        long id = 48000;
        struct text one = {0};
        for (int first = 1;; first = 0) {
            one.length = 0;
            put_message(&one, &random, id++, 0);
            if (t.length + one.length + 64 > 16384)
                break;
            if (!first)
                put(&t, ",");
            append(&t, one.bytes, one.length);
        }
        free(one.bytes);
        put(&t, "],\"more\":true,\"direction\":\"before\",\"ref\":\"h-%0*d\"}", PAYLOAD_SLOT_LENGTH, 0);
    } else {
        free(t.bytes);
        return -1;
    }
    return hand_over(&t, payload);
}

int payload_from_file(const char *path, struct payload *payload)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        return -1;
    }
    struct text t = {0};
    char chunk[65536];
    size_t count;
    while ((count = fread(chunk, 1, sizeof chunk, file)) > 0)
        append(&t, chunk, count);
    int failed = ferror(file);
    fclose(file);
    if (failed || t.length < PAYLOAD_SLOT_LENGTH) {
        fprintf(stderr, "tern-load: %s: %s\n", path, failed ? "read error" : "shorter than the 16-byte sequence slot");
        free(t.bytes);
        return -1;
    }
    return hand_over(&t, payload);
}
