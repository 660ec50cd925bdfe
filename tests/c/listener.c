/*
 * The embeddable listener through the C ABI: started from its JSON on a free port, it answers
 * /health, takes a SINtegre notification over HTTP (a plain POSIX socket here), and its events
 * come out of signbridge_listener_next_event until acknowledged. The route fetches files, but
 * allows no host: the notification's link (apps08.ons.org.br) is quarantined and told as
 * download_failed, so nothing reaches the network. Misuse returns the documented codes and
 * writes no output. Run under valgrind by scripts/test-ffi.sh.
 *
 *   listener WORK_DIR
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "signbridge.h"

static int passed, failed;

#define EXPECT(cond, ...)                                                                   \
    do {                                                                                    \
        if (cond) {                                                                         \
            passed++;                                                                       \
        } else {                                                                            \
            failed++;                                                                       \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                     \
            printf(__VA_ARGS__);                                                            \
            printf("  [last error %d: %s]\n", (int)signbridge_last_error_code(),           \
                   signbridge_last_error_message());                                        \
        }                                                                                   \
    } while (0)

#define UNTOUCHED ((void *)(uintptr_t)0x5a5a)

/* sintegre.md §1.5 (the IPDO example); the token's claims carry the file and exp. */
static const char *IPDO =
    "{\"nome\":\"IPDO (Informativo Preliminar Diário da Operação)\","
    "\"processo\":\"Operação em Tempo Real\",\"dataProduto\":\"20/02/2025\","
    "\"macroProcesso\":\"Operação do Sistema\",\"periodicidade\":\"2025-02-20T00:00:00\","
    "\"periodicidadeFinal\":\"2025-02-20T23:59:59\","
    "\"url\":\"https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token="
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
    "eyJVUkwiOiJodHRwczovL3NpbnRlZ3JlLm9ucy5vcmcuYnIvc2l0ZXMvNy8zOS9Qcm9kdXRvcy8xNTUvSVBETy0y"
    "MC0wMi0yMDI1LnBkZiIsIm5iZiI6MTc0MDE0MjI1MywiZXhwIjoxNzQwMjI4ODkzfQ.c2ln\"}";

/* One HTTP/1.1 request to 127.0.0.1:port; returns the status (-1 on a socket failure). */
static int http(int port, const char *method, const char *path, const char *body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    char head[512];
    size_t len = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, len);
    if (write(fd, head, (size_t)n) != n || (len && write(fd, body, len) != (ssize_t)len)) {
        close(fd);
        return -1;
    }
    char reply[64] = {0};
    ssize_t got = read(fd, reply, sizeof reply - 1);
    close(fd);
    int status = -1;
    if (got > 12 && sscanf(reply, "HTTP/1.1 %d", &status) != 1)
        status = -1;
    return status;
}

/* The next event's JSON (freed by the caller with signbridge_string_free), acknowledged. */
static char *next_acked(signbridge_listener *l) {
    char *event = NULL;
    if (signbridge_listener_next_event(l, 30000, &event) != SIGNBRIDGE_RESULT_OK)
        return NULL;
    const char *id = strstr(event, "\"id\":\"");
    if (id != NULL) {
        char copy[512];
        id += 6;
        size_t len = strcspn(id, "\"");
        if (len < sizeof copy) {
            memcpy(copy, id, len);
            copy[len] = 0;
            EXPECT(signbridge_listener_ack_event(l, copy) == SIGNBRIDGE_RESULT_OK, "ack %s\n",
                   copy);
        }
    }
    return event;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    char config[4096];
    snprintf(config, sizeof config,
             "{\"listen\":\"127.0.0.1:0\",\"journal\":{\"path\":\":memory:\"},"
             "\"download_poll_ms\":20,\"routes\":[{\"source\":\"sintegre\",\"account\":\"ons\","
             "\"settings\":{\"auth\":[\"none\"],\"link_secret\":\"c test\","
             "\"downloads\":{\"folder\":\"%s/files\","
             "\"allow_hosts\":[]}}}]}",
             argv[1]);

    /* Misuse: documented codes, no output written. */
    signbridge_listener *none = UNTOUCHED;
    EXPECT(signbridge_listener_start(NULL, &none) == SIGNBRIDGE_RESULT_NULL_ARGUMENT &&
               none == UNTOUCHED, "listener_start(NULL)\n");
    EXPECT(signbridge_listener_start("{\"routes\":", &none) == SIGNBRIDGE_RESULT_INVALID_JSON &&
               none == UNTOUCHED, "malformed configuration\n");
    EXPECT(signbridge_listener_start("{\"listen\":\"localhost:1\",\"routes\":[]}", &none) ==
                   SIGNBRIDGE_RESULT_VALIDATION && none == UNTOUCHED, "a name, not an address\n");
    signbridge_listener_stop(NULL);

    signbridge_listener *l = NULL;
    EXPECT(signbridge_listener_start(config, &l) == SIGNBRIDGE_RESULT_OK, "listener_start\n");
    if (l == NULL)
        return 1;
    char *address = NULL;
    EXPECT(signbridge_listener_address(l, &address) == SIGNBRIDGE_RESULT_OK, "address\n");
    int port = 0;
    EXPECT(address != NULL && sscanf(address, "http://127.0.0.1:%d", &port) == 1 && port > 0,
           "address %s\n", address);
    signbridge_string_free(address);

    char taken[128];
    snprintf(taken, sizeof taken, "{\"listen\":\"127.0.0.1:%d\",\"routes\":[]}", port);
    EXPECT(signbridge_listener_start(taken, &none) == SIGNBRIDGE_RESULT_CONFIG && none == UNTOUCHED,
           "an address in use\n");
    EXPECT(http(port, "GET", "/health", NULL) == 200, "health\n");
    EXPECT(http(port, "POST", "/webhooks/sintegre/other", IPDO) == 404, "no such route\n");
    EXPECT(http(port, "POST", "/webhooks/sintegre/ons", "nope") == 400, "not JSON\n");
    EXPECT(http(port, "POST", "/webhooks/sintegre/ons", IPDO) == 200, "the notification\n");
    EXPECT(http(port, "POST", "/webhooks/sintegre/ons", IPDO) == 200, "its duplicate\n");

    char *received = next_acked(l);
    EXPECT(received != NULL && strstr(received, "\"kind\":\"document_received\"") != NULL &&
               strstr(received, "token=") == NULL, "received: %s\n", received);
    signbridge_string_free(received);
    char *quarantined = next_acked(l);
    EXPECT(quarantined != NULL && strstr(quarantined, "\"kind\":\"download_failed\"") != NULL &&
               strstr(quarantined, "link_not_allowed") != NULL, "quarantined: %s\n", quarantined);
    signbridge_string_free(quarantined);
    char *more = UNTOUCHED;
    EXPECT(signbridge_listener_next_event(l, 0, &more) == SIGNBRIDGE_RESULT_NO_EVENT &&
               more == UNTOUCHED, "one notification, two events, no more\n");
    EXPECT(signbridge_listener_ack_event(l, "sintegre:ons:unknown") ==
               SIGNBRIDGE_RESULT_NOT_FOUND, "an unknown event\n");

    signbridge_listener_stop(l);
    EXPECT(http(port, "GET", "/health", NULL) == -1, "stopped: nothing listens\n");
    printf("listener: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
