/*
 * A provider that misbehaves, seen from a C host with the default SIGPIPE disposition: every
 * call ends in the result code its case calls for, a failed download leaves no file, and the
 * program is never killed. scripts/test-ffi.sh starts the hostile server (which picks its
 * misbehaviour by the document id in the path), checks that the other origin it redirects to
 * received nothing, and fails when this program dies of a signal.
 *
 *   hostile SERVER_URL DIR
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signbridge.h"

struct hostile_case {
    const char *id;
    const char *what;
    signbridge_result status;   /* what signbridge_status must return */
    signbridge_result download; /* what signbridge_download_to_file must return */
};

/* The ids the server knows (see scripts/test-ffi.sh). */
static const struct hostile_case CASES[] = {
    {"1", "an HTML page with 200", SIGNBRIDGE_RESULT_PROVIDER, SIGNBRIDGE_RESULT_PROVIDER},
    {"2", "garbage that is not JSON", SIGNBRIDGE_RESULT_PROVIDER, SIGNBRIDGE_RESULT_PROVIDER},
    {"3", "a 502 page", SIGNBRIDGE_RESULT_PROVIDER, SIGNBRIDGE_RESULT_PROVIDER},
    {"4", "a 50 GB Content-Length", SIGNBRIDGE_RESULT_PROVIDER, SIGNBRIDGE_RESULT_PROVIDER},
    {"5", "a body that never ends, slowly", SIGNBRIDGE_RESULT_TIMEOUT, SIGNBRIDGE_RESULT_TIMEOUT},
    {"6", "a redirect to another origin", SIGNBRIDGE_RESULT_PROVIDER, SIGNBRIDGE_RESULT_PROVIDER},
    {"7", "a hang-up without an answer", SIGNBRIDGE_RESULT_TRANSPORT, SIGNBRIDGE_RESULT_TRANSPORT},
};

/* Entries of `dir` other than . and .. */
static int entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        exit(2);
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    }
    closedir(d);
    return n;
}

static int expect(const char *call, const struct hostile_case *c, signbridge_result rc,
                  signbridge_result want) {
    printf("%s of %s: result %d: %s\n", call, c->what, (int)rc, signbridge_last_error_message());
    if (rc != want) {
        printf("FAIL: %s of %s: expected result %d\n", call, c->what, (int)want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SERVER_URL DIR\n", argv[0]);
        return 2;
    }
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) != 0 || current.sa_handler != SIG_DFL) {
        fprintf(stderr, "SIGPIPE must have its default disposition\n");
        return 2;
    }
    const char *dir = argv[2];
    char config[1024];
    snprintf(config, sizeof config,
             "{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"%s\",\"api_base\":\"%s\","
             "\"token\":\"hostile-test-token\"},\"transport\":{\"read_timeout_ms\":300,"
             "\"request_timeout_ms\":1000,\"operation_timeout_ms\":3000,\"max_retries\":0}}",
             argv[1], argv[1]);
    signbridge_client *client = NULL;
    if (signbridge_client_new(config, &client) != SIGNBRIDGE_RESULT_OK) {
        fprintf(stderr, "client: %s\n", signbridge_last_error_message());
        return 1;
    }
    int failed = 0;
    char path[4096];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const struct hostile_case *c = &CASES[i];
        char *status = (char *)"untouched";
        failed |= expect("status", c, signbridge_status(client, c->id, &status), c->status);
        if (strcmp(status, "untouched") != 0) {
            printf("FAIL: status of %s wrote its output on failure\n", c->what);
            failed = 1;
        }
        snprintf(path, sizeof path, "%s/signed-%s.pdf", dir, c->id);
        failed |= expect("download", c, signbridge_download_to_file(client, c->id, "signed", path),
                         c->download);
        if (entries(dir) != 0) {
            printf("FAIL: the download of %s left a file in %s\n", c->what, dir);
            failed = 1;
        }
    }
    signbridge_client_free(client);
    if (failed) return 1;
    printf("every hostile answer ended in its result code, no file was left, no signal came\n");
    return 0;
}
