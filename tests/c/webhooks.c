/*
 * Webhook intake through the C ABI: a receiver over a journal file takes SINtegre and TAE
 * deliveries (the contract's example body), answers each status the way the core does, hands
 * out events until they are acknowledged — again after the receiver is freed and made anew —
 * and a client of the TAE account on the same journal sees and acknowledges its webhook event,
 * replays it (from a position and from a time) and prunes nothing younger than the retention.
 * Misuse (NULL arguments, bad JSON) returns the documented codes and writes no output. Run
 * under valgrind by scripts/test-ffi.sh.
 *
 *   webhooks WORK_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define UNTOUCHED ((char *)(uintptr_t)0x5a5a)

static const char *RECEIVER_CONFIG =
    "{\"routes\":["
    "{\"source\":\"sintegre\",\"account\":\"ons\","
    "\"settings\":{\"auth\":[{\"basic\":{\"user\":\"ons\",\"password\":\"s3cr3t\"}}]}},"
    "{\"source\":\"tae\",\"account\":\"rm\"}]}";

/* "ons:s3cr3t" in base64. */
static const char *ONS_HEADERS =
    "{\"Content-Type\":\"application/json\",\"Authorization\":\"Basic b25zOnMzY3IzdA==\"}";

/* sintegre.md §1.5 (the IPDO example), with a token whose claims carry the file:
   {"URL":"https://sintegre.ons.org.br/sites/7/39/Produtos/155/IPDO-20-02-2025.pdf",
    "nbf":1740142253,"exp":1740228893}. */
static const char *IPDO =
    "{\"nome\":\"IPDO (Informativo Preliminar Diário da Operação)\","
    "\"processo\":\"Operação em Tempo Real\",\"dataProduto\":\"20/02/2025\","
    "\"macroProcesso\":\"Operação do Sistema\",\"periodicidade\":\"2025-02-20T00:00:00\","
    "\"periodicidadeFinal\":\"2025-02-20T23:59:59\","
    "\"url\":\"https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token="
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
    "eyJVUkwiOiJodHRwczovL3NpbnRlZ3JlLm9ucy5vcmcuYnIvc2l0ZXMvNy8zOS9Qcm9kdXRvcy8xNTUvSVBETy0y"
    "MC0wMi0yMDI1LnBkZiIsIm5iZiI6MTc0MDE0MjI1MywiZXhwIjoxNzQwMjI4ODkzfQ.c2ln\"}";

static const char *TAE_BODY =
    "{\"IdDocumento\":4242,\"idPublicacao\":\"p1\",\"status\":2,\"assinante\":\"a@x.example\"}";

/* Ingests one delivery and returns its HTTP status (-1 if the call failed). */
static int ingest(signbridge_receiver *rx, const char *source, const char *account,
                  const char *method, const char *headers, const char *body) {
    int status = -1;
    char *reply = NULL;
    signbridge_result rc = signbridge_webhook_ingest(rx, source, account, method, headers,
                                                     (const uint8_t *)body, strlen(body),
                                                     &status, &reply);
    EXPECT(rc == SIGNBRIDGE_RESULT_OK, "ingest %s/%s returned %d\n", source, account, (int)rc);
    EXPECT(reply != NULL && strstr(reply, "\"body\"") != NULL, "reply: %s\n", reply);
    signbridge_string_free(reply);
    return status;
}

/* The id of the next event (freed by the caller), or NULL when none is pending. */
static char *next_id(signbridge_receiver *rx) {
    char *event = NULL;
    if (signbridge_receiver_next_event(rx, 0, &event) != SIGNBRIDGE_RESULT_OK)
        return NULL;
    const char *id = strstr(event, "\"id\":\"");
    char *copy = NULL;
    if (id != NULL) {
        id += 6;
        size_t len = strcspn(id, "\"");
        copy = malloc(len + 1);
        memcpy(copy, id, len);
        copy[len] = 0;
    }
    signbridge_string_free(event);
    return copy;
}

static signbridge_receiver *open_receiver(void) {
    signbridge_receiver *rx = NULL;
    EXPECT(signbridge_receiver_new(RECEIVER_CONFIG, &rx) == SIGNBRIDGE_RESULT_OK,
           "signbridge_receiver_new failed\n");
    return rx;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    /* The receiver and the client share this journal (SIGNBRIDGE_JOURNAL overrides the
       configurations, as for every host). */
    char journal[4096];
    snprintf(journal, sizeof journal, "%s/webhooks-journal.sqlite3", argv[1]);
    setenv("SIGNBRIDGE_JOURNAL", journal, 1);

    /* Misuse: documented codes, no output written. */
    signbridge_receiver *none = (signbridge_receiver *)UNTOUCHED;
    EXPECT(signbridge_receiver_new(NULL, &none) == SIGNBRIDGE_RESULT_NULL_ARGUMENT &&
               none == (signbridge_receiver *)UNTOUCHED, "receiver_new(NULL)\n");
    EXPECT(signbridge_receiver_new("{\"routes\":[{\"source\":\"sbis\",\"account\":\"a\"}]}",
                                   &none) == SIGNBRIDGE_RESULT_VALIDATION,
           "an unknown source is a validation error\n");
    EXPECT(signbridge_receiver_new("{\"routes\":", &none) == SIGNBRIDGE_RESULT_INVALID_JSON,
           "malformed configuration\n");
    signbridge_receiver_free(NULL);

    signbridge_receiver *rx = open_receiver();
    if (rx == NULL)
        return 1;
    int status = 7;
    char *reply = UNTOUCHED;
    EXPECT(signbridge_webhook_ingest(NULL, "sintegre", "ons", "POST", "{}", NULL, 0, &status,
                                     &reply) == SIGNBRIDGE_RESULT_NULL_ARGUMENT,
           "ingest without a receiver\n");
    EXPECT(signbridge_webhook_ingest(rx, "sintegre", "ons", "POST", "{}", NULL, 5, &status,
                                     &reply) == SIGNBRIDGE_RESULT_NULL_ARGUMENT,
           "a NULL body with a length\n");
    EXPECT(signbridge_webhook_ingest(rx, "sintegre", "ons", "POST", "{\"a\":", NULL, 0, &status,
                                     &reply) == SIGNBRIDGE_RESULT_INVALID_JSON,
           "malformed headers\n");
    EXPECT(signbridge_webhook_ingest(rx, "sintegre", "ons", "POST", "{\"a\":1}", NULL, 0,
                                     &status, &reply) == SIGNBRIDGE_RESULT_VALIDATION,
           "a header that is not a string\n");
    EXPECT(status == 7 && reply == UNTOUCHED, "a failed ingest wrote its outputs\n");

    /* Each answer. */
    EXPECT(ingest(rx, "sintegre", "nobody", "POST", ONS_HEADERS, IPDO) == 404, "404\n");
    EXPECT(ingest(rx, "sintegre", "ons", "GET", ONS_HEADERS, IPDO) == 405, "405\n");
    EXPECT(ingest(rx, "sintegre", "ons", "POST", "{\"Authorization\":\"Basic b25zOng=\"}",
                  IPDO) == 401, "401\n");
    EXPECT(ingest(rx, "sintegre", "ons", "POST", ONS_HEADERS, "{\"nome\":\"x\"}") == 400,
           "400 without url\n");
    EXPECT(ingest(rx, "sintegre", "ons", "POST", ONS_HEADERS, IPDO) == 200, "200\n");
    EXPECT(ingest(rx, "sintegre", "ons", "POST", ONS_HEADERS, IPDO) == 200, "duplicate 200\n");
    EXPECT(ingest(rx, "tae", "rm", "POST", "[[\"content-type\",\"application/json\"]]",
                  TAE_BODY) == 200, "tae 200\n");

    /* Two events (the duplicate is one), handed out once per receiver until acked. */
    char *first = next_id(rx);
    char *second = next_id(rx);
    char *third = next_id(rx);
    EXPECT(first != NULL && strncmp(first, "sintegre:ons:k1:", 16) == 0, "first: %s\n", first);
    EXPECT(second != NULL && strcmp(second, "tae:rm:4242:p1:2:a@x.example") == 0,
           "second: %s\n", second);
    EXPECT(third == NULL, "a third event: %s\n", third);
    free(third);
    signbridge_receiver_free(rx);

    rx = open_receiver();
    char *again = next_id(rx);
    EXPECT(again != NULL && first != NULL && strcmp(again, first) == 0,
           "not acked: the same event after a restart (%s)\n", again);
    EXPECT(signbridge_receiver_ack_event(rx, first) == SIGNBRIDGE_RESULT_OK, "ack\n");
    EXPECT(signbridge_receiver_ack_event(rx, first) == SIGNBRIDGE_RESULT_OK, "ack again\n");
    EXPECT(signbridge_receiver_ack_event(rx, "nope") == SIGNBRIDGE_RESULT_NOT_FOUND,
           "an unknown id\n");
    EXPECT(signbridge_receiver_ack_event(rx, NULL) == SIGNBRIDGE_RESULT_NULL_ARGUMENT,
           "a NULL id\n");
    free(again);
    free(first);
    signbridge_receiver_free(rx);

    /* The TAE account's client sees its webhook event on the same journal. */
    signbridge_client *client = NULL;
    EXPECT(signbridge_client_new(
               "{\"provider\":\"tae\",\"account\":\"rm\",\"settings\":{"
               "\"auth_base\":\"http://127.0.0.1:9/id\",\"api_base\":\"http://127.0.0.1:9/\","
               "\"username\":\"u@x.example\",\"password\":\"p\"}}",
               &client) == SIGNBRIDGE_RESULT_OK,
           "signbridge_client_new\n");
    char *event = NULL;
    EXPECT(signbridge_next_event(client, 0, &event) == SIGNBRIDGE_RESULT_OK && event != NULL &&
               second != NULL && strstr(event, second) != NULL,
           "the client's event: %s\n", event);
    signbridge_string_free(event);
    EXPECT(signbridge_ack_event(client, second) == SIGNBRIDGE_RESULT_OK, "client ack\n");
    EXPECT(signbridge_ack_event(NULL, second) == SIGNBRIDGE_RESULT_NULL_ARGUMENT, "NULL client\n");
    event = UNTOUCHED;
    EXPECT(signbridge_next_event(client, 0, &event) == SIGNBRIDGE_RESULT_NO_EVENT &&
               event == UNTOUCHED, "nothing left\n");

    /* Replay shows the acked event again, with its position; after that position, nothing. */
    char *replayed = UNTOUCHED;
    EXPECT(signbridge_replay_events(client, "0", 10, &replayed) == SIGNBRIDGE_RESULT_OK &&
               replayed != UNTOUCHED && second != NULL && strstr(replayed, second) != NULL &&
               strstr(replayed, "\"position\":") != NULL &&
               strstr(replayed, "\"acked_at\":null") == NULL,
           "replay from the beginning: %s\n", replayed);
    char since[32] = "";
    const char *pos = replayed != UNTOUCHED ? strstr(replayed, "\"position\":") : NULL;
    if (pos != NULL) snprintf(since, sizeof since, "%ld", strtol(pos + 11, NULL, 10));
    if (replayed != UNTOUCHED) signbridge_string_free(replayed);
    replayed = UNTOUCHED;
    EXPECT(signbridge_replay_events(client, since, 10, &replayed) == SIGNBRIDGE_RESULT_OK &&
               replayed != UNTOUCHED && strcmp(replayed, "[]") == 0,
           "replay after position %s: %s\n", since, replayed);
    if (replayed != UNTOUCHED) signbridge_string_free(replayed);
    replayed = UNTOUCHED;
    EXPECT(signbridge_replay_events(client, "2000-01-01T00:00:00Z", 10, &replayed) ==
                   SIGNBRIDGE_RESULT_OK &&
               replayed != UNTOUCHED && second != NULL && strstr(replayed, second) != NULL,
           "replay from a time: %s\n", replayed);
    if (replayed != UNTOUCHED) signbridge_string_free(replayed);
    replayed = UNTOUCHED;
    EXPECT(signbridge_replay_events(client, "yesterday", 10, &replayed) ==
                   SIGNBRIDGE_RESULT_VALIDATION &&
               replayed == UNTOUCHED && strstr(signbridge_last_error_message(), "since") != NULL,
           "a bad since names the field\n");
    EXPECT(signbridge_replay_events(client, NULL, 10, &replayed) ==
                   SIGNBRIDGE_RESULT_NULL_ARGUMENT &&
               replayed == UNTOUCHED,
           "NULL since\n");
    uint64_t pruned = 99;
    EXPECT(signbridge_prune_events(client, 1, &pruned) == SIGNBRIDGE_RESULT_OK && pruned == 0,
           "an event acked just now is kept a while: %lu\n", (unsigned long)pruned);
    EXPECT(signbridge_prune_events(client, 1, NULL) == SIGNBRIDGE_RESULT_NULL_ARGUMENT,
           "NULL count\n");
    free(second);
    signbridge_client_free(client);

    printf("webhooks: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
