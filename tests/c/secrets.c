/* After signbridge_client_free, the account's password and the TAE token it logged in with
 * must be gone from the process's memory: the library overwrites its own copies (settings,
 * the token cache, the login's request and reply, the Authorization header) before freeing
 * them.
 *
 * The HTTP library's connection buffers (the request it encoded, the reply it read) are freed
 * without being overwritten, outside signbridge's hands; a copy there is recognised by the
 * HTTP text around it and allowed. Any other copy fails the test.
 *
 * Usage: secrets SANDBOX_URL, with the TAE sandbox password on standard input. The password
 * is read with read(2) (no stdio buffer keeps it) and searched for through a masked copy, so
 * that this program holds no plain copy of its own once the configuration text is wiped.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signbridge.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MASK 0x5A

/* The start of every sandbox TAE token: the base64url of its JWE header. Not a secret. */
static const char TOKEN_PREFIX[] = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2Ii";

struct needle {
    const char *name;
    unsigned char masked[256];
    size_t len;
};

static struct needle secret, token;

static void needle_from(struct needle *n, const char *name, const char *text, size_t len) {
    n->name = name;
    n->len = len;
    for (size_t i = 0; i < len; i++) n->masked[i] = (unsigned char)text[i] ^ MASK;
}

static int matches(const unsigned char *at, const struct needle *n) {
    for (size_t i = 0; i < n->len; i++)
        if ((at[i] ^ MASK) != n->masked[i]) return 0;
    return 1;
}

/* Whether the bytes before a token are the HTTP library's buffers: the request it encoded
 * (`authorization: Bearer ` as hyper writes header names), or the login reply it read. The
 * library's own copies of that reply are overwritten, so what is left with this context is
 * the connection's read buffer. The password gets no such allowance. */
static int in_http_buffer(const unsigned char *region, size_t offset) {
    static const char *contexts[] = {"\r\nauthorization: Bearer ", "\"data\":{\"token\":\""};
    for (size_t c = 0; c < sizeof contexts / sizeof *contexts; c++) {
        size_t len = strlen(contexts[c]);
        if (offset >= len && memcmp(region + offset - len, contexts[c], len) == 0) return 1;
    }
    return 0;
}

/* Counts the copies of `n` in every writable mapping, those outside HTTP buffers apart;
 * `report` prints where each of those is. */
static void count(const struct needle *n, int report, long *outside, long *in_http) {
    FILE *maps = fopen("/proc/self/maps", "r");
    int mem = open("/proc/self/mem", O_RDONLY);
    if (!maps || mem < 0) {
        perror("secrets: /proc/self");
        exit(2);
    }
    char line[512];
    *outside = *in_http = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3 || perms[0] != 'r' ||
            perms[1] != 'w')
            continue;
        size_t size = end - start;
        unsigned char *region = malloc(size);
        if (!region) continue;
        ssize_t got = pread(mem, region, size, (off_t)start);
        for (ssize_t i = 0; got > 0 && i + (ssize_t)n->len <= got; i++) {
            /* This program's own masked needles are not copies. */
            if (region + i == n->masked) continue;
            if (matches(region + i, n)) {
                if (n == &token && in_http_buffer(region, (size_t)i)) {
                    (*in_http)++;
                } else {
                    (*outside)++;
                    if (report)
                        fprintf(stderr, "secrets: a copy of the %s at %#lx\n", n->name,
                                start + i);
                }
            }
        }
        free(region);
    }
    close(mem);
    fclose(maps);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: secrets SANDBOX_URL < password\n");
        return 2;
    }
    char password[128];
    ssize_t len = read(0, password, sizeof password - 1);
    while (len > 0 && (password[len - 1] == '\n' || password[len - 1] == '\r')) len--;
    if (len <= 0) {
        fprintf(stderr, "secrets: no password on standard input\n");
        return 2;
    }
    needle_from(&secret, "password", password, (size_t)len);
    needle_from(&token, "token", TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);

    size_t config_size = 4096;
    char *config = malloc(config_size);
    snprintf(config, config_size,
             "{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"%s/tae/identityintegration\","
             "\"api_base\":\"%s/tae\",\"username\":\"svc@signbridge.test\",\"password\":\"%.*s\"}}",
             argv[1], argv[1], (int)len, password);
    explicit_bzero(password, sizeof password);
    signbridge_client *client = NULL;
    signbridge_result rc = signbridge_client_new(config, &client);
    explicit_bzero(config, config_size);
    free(config);
    if (rc != SIGNBRIDGE_RESULT_OK) {
        fprintf(stderr, "secrets: client: %s\n", signbridge_last_error_message());
        return 1;
    }
    /* Logs in (the token is cached), then learns the document does not exist. */
    char *status = NULL;
    rc = signbridge_status(client, "tae:default:999999", &status);
    if (rc != SIGNBRIDGE_RESULT_NOT_FOUND) {
        fprintf(stderr, "secrets: status gave %d: %s\n", rc, signbridge_last_error_message());
        return 1;
    }
    long outside, in_http;
    count(&token, 0, &outside, &in_http);
    if (outside == 0) {
        fprintf(stderr, "secrets: no token in memory while the client lives: the test is blind\n");
        return 1;
    }
    signbridge_client_free(client);

    int failed = 0;
    count(&secret, 1, &outside, &in_http);
    printf("after free: password %ld (+%ld in HTTP buffers)", outside, in_http);
    failed |= outside > 0;
    count(&token, 1, &outside, &in_http);
    printf(", token %ld (+%ld in HTTP buffers)\n", outside, in_http);
    failed |= outside > 0;
    return failed;
}
