/*
 * SIGPIPE never reaches the host. This program keeps the default SIGPIPE disposition (death,
 * exit status 141 from a shell) like every C and Delphi program that never changed it, and
 * uploads a large document to a server that reads the request's head and a little of its body
 * and then closes the connection while the library is still writing. The call must fail with
 * a transport code and the program must go on to exit 0; scripts/test-ffi.sh starts the
 * server and fails when this program is killed by a signal.
 *
 *   sigpipe SERVER_URL
 *
 * Both the caller's thread and a thread the program starts make the call, since each blocks
 * while the library works on it and on its own threads.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signbridge.h"

/* Large enough that the upload is still being written when the server hangs up: the server
 * reads at most a few hundred KiB, and socket buffers hold a few MiB at most. */
#define DOCUMENT_LEN (32u << 20)

/* Each upload has its own reference: the journal answers a reference it has already seen (here,
 * one whose upload failed and may have reached the server) without writing again, and each call
 * must write to prove the guard. */
static const char *ENVELOPE_FORMAT =
    "{\"reference\":\"%s\",\"title\":\"Contrato grande\",\"documents\":[],"
    "\"parties\":[{\"name\":\"João Araújo\",\"email\":\"joao@cliente.example\"}]}";

struct upload {
    const char *where;
    const char *reference;
    const signbridge_client *client;
    const uint8_t *document;
    signbridge_result rc;
    int failed;
};

/* Whether SIGPIPE is blocked on, or pending for, the calling thread. */
static int sigpipe_in(int pending) {
    sigset_t set;
    sigemptyset(&set);
    if (pending ? sigpending(&set) != 0 : pthread_sigmask(SIG_BLOCK, NULL, &set) != 0) {
        perror(pending ? "sigpending" : "pthread_sigmask");
        exit(2);
    }
    return sigismember(&set, SIGPIPE) == 1;
}

static void *upload(void *arg) {
    struct upload *u = arg;
    char *handle = NULL;
    char envelope[512];
    snprintf(envelope, sizeof envelope, ENVELOPE_FORMAT, u->reference);
    u->rc = signbridge_send_with_document(u->client, envelope, u->document, DOCUMENT_LEN,
                                          "contrato-grande.pdf", &handle);
    printf("upload on %s: result %d: %s\n", u->where, (int)u->rc,
           signbridge_last_error_message());
    if (u->rc != SIGNBRIDGE_RESULT_TRANSPORT && u->rc != SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN) {
        printf("FAIL (%s): expected SIGNBRIDGE_RESULT_TRANSPORT or _OUTCOME_UNKNOWN\n", u->where);
        u->failed = 1;
    }
    if (handle) signbridge_string_free(handle);
    /* The library restored this thread's mask and left no SIGPIPE of its own pending. */
    if (sigpipe_in(0) || sigpipe_in(1)) {
        printf("FAIL (%s): SIGPIPE is %s after the call\n", u->where,
               sigpipe_in(0) ? "blocked" : "pending");
        u->failed = 1;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SERVER_URL\n", argv[0]);
        return 2;
    }
    /* The test proves nothing unless SIGPIPE would kill this process. */
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) != 0 || current.sa_handler != SIG_DFL ||
        sigpipe_in(0)) {
        fprintf(stderr, "SIGPIPE must have its default disposition and be unblocked\n");
        return 2;
    }

    char config[1024];
    snprintf(config, sizeof config,
             "{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"%s\",\"api_base\":\"%s\","
             "\"token\":\"sigpipe-test\"}}",
             argv[1], argv[1]);
    signbridge_client *client = NULL;
    if (signbridge_client_new(config, &client) != SIGNBRIDGE_RESULT_OK) {
        fprintf(stderr, "client: %s\n", signbridge_last_error_message());
        return 1;
    }
    uint8_t *document = malloc(DOCUMENT_LEN);
    if (!document) {
        perror("malloc");
        return 2;
    }
    memset(document, 'x', DOCUMENT_LEN);

    struct upload on_main = {"the main thread", "SIGPIPE-1", client, document, -1, 0};
    upload(&on_main);
    struct upload on_thread = {"a second thread", "SIGPIPE-2", client, document, -1, 0};
    pthread_t thread;
    if (pthread_create(&thread, NULL, upload, &on_thread) != 0) {
        perror("pthread_create");
        return 2;
    }
    pthread_join(thread, NULL);

    free(document);
    signbridge_client_free(client);
    if (on_main.failed || on_thread.failed) return 1;
    printf("both uploads failed cleanly and SIGPIPE never reached the program\n");
    return 0;
}
