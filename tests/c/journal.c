/*
 * Exactly once from C, with a journal *file*: a reference sent again (by a new client on the
 * same file, as after a restart) returns its handle and makes no second document; a lost
 * publish answer is OUTCOME_UNKNOWN with the draft's handle, listed by signbridge_pending,
 * reconciled as a draft, and finished by sending the same envelope again.
 *
 *   journal SANDBOX_URL JOURNAL_FILE
 *
 * scripts/test-ffi.sh arms the sandbox fault first: the answer of TAE's publish lost once,
 * after the publish committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signbridge.h"

static int failed;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            failed++;                                                                       \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                     \
            printf(__VA_ARGS__);                                                            \
            printf("  [last error %d: %s]\n", (int)signbridge_last_error_code(),           \
                   signbridge_last_error_message());                                        \
        }                                                                                   \
    } while (0)

static const char *ENVELOPE_FMT =
    "{\"reference\":\"%s\",\"title\":\"Contrato\","
    "\"documents\":[{\"name\":\"contrato.pdf\",\"content_base64\":\"JVBERi0xLjQK\"}],"
    "\"parties\":[{\"name\":\"João Araújo\",\"email\":\"joao@cliente.example\"}]}";

static signbridge_client *client_new(const char *url, const char *journal) {
    char config[2048];
    snprintf(config, sizeof config,
             "{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"%s/tae/identityintegration\","
             "\"api_base\":\"%s/tae\",\"username\":\"svc@signbridge.test\","
             "\"password\":\"sandbox-password\"},\"transport\":{\"max_retries\":0},"
             "\"journal\":{\"path\":\"%s\"}}",
             url, url, journal);
    signbridge_client *client = NULL;
    signbridge_result rc = signbridge_client_new(config, &client);
    CHECK(rc == SIGNBRIDGE_RESULT_OK, "client_new: %d\n", (int)rc);
    return client;
}

/* The value of "key":"..." in `json` (into `out`), or "" when absent. */
static void string_field(const char *json, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr(json, pattern);
    out[0] = '\0';
    if (!at)
        return;
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    size_t len = end ? (size_t)(end - at) : 0;
    if (len >= size)
        len = size - 1;
    memcpy(out, at, len);
    out[len] = '\0';
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SANDBOX_URL JOURNAL_FILE\n", argv[0]);
        return 2;
    }
    const char *url = argv[1], *journal = argv[2];
    char envelope[1024], id[128], again_id[128], outcome[32];
    char *out = NULL;

    /* The publish's answer is lost: outcome unknown, the draft's handle in the last error. */
    signbridge_client *client = client_new(url, journal);
    if (!client)
        return 1;
    snprintf(envelope, sizeof envelope, ENVELOPE_FMT, "C-JOURNAL-1");
    signbridge_result rc = signbridge_send(client, envelope, &out);
    CHECK(rc == SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN, "first send: %d\n", (int)rc);
    const char *draft = signbridge_last_error_handle();
    CHECK(draft != NULL, "the draft's handle\n");
    string_field(draft ? draft : "", "id", id, sizeof id);
    CHECK(id[0] != '\0', "the draft's id\n");

    CHECK(signbridge_pending(client, &out) == SIGNBRIDGE_RESULT_OK, "pending\n");
    CHECK(out && strstr(out, "\"reference\":\"C-JOURNAL-1\"") && strstr(out, "\"state\":\"unknown\""),
          "pending lists the send: %s\n", out ? out : "");
    signbridge_string_free(out);
    out = NULL;
    CHECK(signbridge_reconcile(client, "C-JOURNAL-1", &out) == SIGNBRIDGE_RESULT_OK, "reconcile\n");
    string_field(out ? out : "", "outcome", outcome, sizeof outcome);
    /* TAE's lookup finds the document: published already, so sent. */
    CHECK(strcmp(outcome, "sent") == 0 || strcmp(outcome, "draft") == 0, "reconciled: %s\n",
          out ? out : "");
    signbridge_string_free(out);
    out = NULL;
    signbridge_client_free(client);

    /* A new client on the same file (a restart): the same handle, no second document. */
    client = client_new(url, journal);
    if (!client)
        return 1;
    rc = signbridge_send(client, envelope, &out);
    CHECK(rc == SIGNBRIDGE_RESULT_OK, "send after the restart: %d\n", (int)rc);
    string_field(out ? out : "", "id", again_id, sizeof again_id);
    CHECK(strcmp(id, again_id) == 0, "the same document: %s then %s\n", id, again_id);
    signbridge_string_free(out);
    out = NULL;
    CHECK(signbridge_pending(client, &out) == SIGNBRIDGE_RESULT_OK && out && strcmp(out, "[]") == 0,
          "nothing pending: %s\n", out ? out : "");
    signbridge_string_free(out);
    out = NULL;

    /* Another envelope under the reference: refused, unless a new document is asked for. */
    snprintf(envelope, sizeof envelope, ENVELOPE_FMT, "C-JOURNAL-1");
    char *title = strstr(envelope, "Contrato");
    memcpy(title, "Contrat2", 8);
    rc = signbridge_send(client, envelope, &out);
    CHECK(rc == SIGNBRIDGE_RESULT_VALIDATION && out == NULL, "another envelope: %d\n", (int)rc);
    rc = signbridge_send_new_document(client, envelope, &out);
    CHECK(rc == SIGNBRIDGE_RESULT_OK, "new document: %d\n", (int)rc);
    string_field(out ? out : "", "id", again_id, sizeof again_id);
    CHECK(again_id[0] && strcmp(id, again_id) != 0, "a new document: %s\n", again_id);
    signbridge_string_free(out);
    signbridge_client_free(client);

    printf("journal: %s\n", failed ? "FAILED" : "ok");
    return failed == 0 ? 0 : 1;
}
