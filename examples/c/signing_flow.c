/*
 * The whole signing flow through signbridge's C ABI, against the sandbox, for TOTVS Assinatura
 * Eletrônica (tae) or ArqSign (arqsign): send a contract to two signers in order, make them
 * sign through the sandbox's control routes (libcurl, the only thing curl is used for), poll
 * the status, take the events, download a second file into memory (TAE: the original, which
 * must come back byte for byte; ArqSign: the evidence report) and the signed PDF to a file, and
 * print the file's path. Only the configuration and the sandbox's sign route differ by provider:
 * the rest is the same code, which is the point of a provider-neutral API.
 *
 *   signing_flow tae|arqsign SANDBOX_URL OUT_DIR
 *
 * SANDBOX_URL is what `signbridge sandbox --port 0` prints (SIGNBRIDGE_SANDBOX_URL=...).
 * Build: gcc -Wall -Wextra -Werror -Iinclude examples/c/signing_flow.c -Ltarget/debug -lsignbridge -lcurl
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signbridge.h"

/* Portuguese on purpose: the test script checks that the sandbox received these exact
 * characters. This file is UTF-8, as signbridge expects every string to be. */
#define TITLE "Contrato de prestação de serviços"
static const char *const SIGNER_NAMES[2] = {"João Araújo", "Maria da Conceição Souza"};
static const char *const SIGNER_EMAILS[2] = {"joao.araujo@cliente.example",
                                             "maria.souza@empresa.example"};

static void fail(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fputs("signing_flow: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

/* Stops on any failure, with everything the library tells about it. */
static void check(signbridge_result rc, const char *what) {
    if (rc == SIGNBRIDGE_RESULT_OK) return;
    fail("%s failed: code %d, HTTP %d: %s (provider: \"%s\")", what, (int)rc,
         (int)signbridge_last_error_http_status(), signbridge_last_error_message(),
         signbridge_last_error_provider_message());
}

/* A one-page PDF with correct cross-reference offsets, built in memory. Returns its length. */
static size_t make_pdf(char *buf, size_t cap) {
    const char *stream = "BT /F1 18 Tf 72 770 Td (Contrato de prestacao de servicos) Tj ET";
    char objects[5][256];
    snprintf(objects[0], sizeof objects[0], "<< /Type /Catalog /Pages 2 0 R >>");
    snprintf(objects[1], sizeof objects[1], "<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    snprintf(objects[2], sizeof objects[2],
             "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
             "/Resources << /Font << /F1 5 0 R >> >> >>");
    snprintf(objects[3], sizeof objects[3], "<< /Length %zu >>\nstream\n%s\nendstream",
             strlen(stream), stream);
    snprintf(objects[4], sizeof objects[4],
             "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    size_t offsets[5];
    size_t len = (size_t)snprintf(buf, cap, "%%PDF-1.4\n");
    for (int i = 0; i < 5; i++) {
        offsets[i] = len;
        len += (size_t)snprintf(buf + len, cap - len, "%d 0 obj\n%s\nendobj\n", i + 1, objects[i]);
    }
    size_t xref = len;
    len += (size_t)snprintf(buf + len, cap - len, "xref\n0 6\n0000000000 65535 f \n");
    for (int i = 0; i < 5; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%010zu 00000 n \n", offsets[i]);
    len += (size_t)snprintf(buf + len, cap - len,
                            "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
    if (len >= cap) fail("PDF buffer too small");
    return len;
}

/* The string value of "key" in flat JSON such as a handle. Enough for this example; a real
 * host uses its JSON library. */
static void json_string(const char *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    if (!start) fail("no \"%s\" in %s", key, json);
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (!end || (size_t)(end - start) >= cap) fail("bad \"%s\" in %s", key, json);
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
}

static size_t discard(char *data, size_t size, size_t count, void *userdata) {
    (void)data;
    (void)userdata;
    return size * count;
}

/* What differs between providers: the account configuration (credentials for the sandbox's
 * accounts), the sandbox route that makes a party sign, and the second file to fetch. */
struct provider {
    const char *id;
    const char *config; /* printf format; each %1$s is the sandbox URL */
    const char *sign_route; /* printf format: sandbox URL, document id */
    const char *second_kind;
};

/* The sandbox's default accounts (see signbridge_sandbox::tae and ::arqsign). */
static const struct provider PROVIDERS[] = {
    {"tae",
     "{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"%1$s/tae/identityintegration\","
     "\"api_base\":\"%1$s/tae\",\"username\":\"svc@signbridge.test\","
     "\"password\":\"sandbox-password\"}}",
     "%s/__sandbox/tae/documents/%s/sign", "original"},
    {"arqsign",
     "{\"provider\":\"arqsign\",\"settings\":{\"base_url\":\"%1$s/arqsign\","
     "\"app_key\":\"a7c3e9f1b5d24680ace13579bdf02468\",\"subscription_key\":\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\","
     "\"responsible_id\":\"6b1f0d8e-2c3a-4e5f-8a9b-0c1d2e3f4a51\","
     "\"folder_id\":\"9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e62\"}}",
     "%s/__sandbox/arqsign/processes/%s/sign", "evidence"},
};

/* In production the signer clicks a link in an e-mail; here the sandbox plays that part. */
static void sandbox_sign(const struct provider *p, const char *base, const char *id,
                         const char *email) {
    char url[512], body[256];
    snprintf(url, sizeof url, p->sign_route, base, id);
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    CURL *curl = curl_easy_init();
    if (!curl) fail("curl_easy_init failed");
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) fail("POST %s: %s", url, curl_easy_strerror(rc));
    if (status / 100 != 2) fail("POST %s answered HTTP %ld", url, status);
}

/* Polls the status until its state is `want`; fails on another terminal state or after 30 s. */
static void wait_for_state(const signbridge_client *client, const char *handle, const char *want) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"state\":\"%s\"", want);
    for (int attempt = 0; attempt < 300; attempt++) {
        char *status = NULL;
        check(signbridge_status(client, handle, &status), "signbridge_status");
        int done = strstr(status, pattern) != NULL;
        int stuck = strstr(status, "\"state\":\"rejected\"") || strstr(status, "\"state\":\"cancelled\"");
        signbridge_string_free(status);
        if (done) return;
        if (stuck) fail("document stopped before reaching %s", want);
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    fail("document did not reach %s within 30 s", want);
}

int main(int argc, char **argv) {
    const struct provider *p = NULL;
    for (size_t i = 0; argc == 4 && i < sizeof PROVIDERS / sizeof PROVIDERS[0]; i++)
        if (strcmp(argv[1], PROVIDERS[i].id) == 0) p = &PROVIDERS[i];
    if (!p) {
        fprintf(stderr, "usage: %s tae|arqsign SANDBOX_URL OUT_DIR\n", argv[0]);
        return 2;
    }
    const char *base = argv[2], *out_dir = argv[3];
    if (signbridge_abi_version() != SIGNBRIDGE_ABI_VERSION)
        fail("library ABI %u, header ABI %d", signbridge_abi_version(), SIGNBRIDGE_ABI_VERSION);
    printf("signbridge %s (ABI %u), C example, %s at the sandbox %s\n", signbridge_version(),
           signbridge_abi_version(), p->id, base);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    char config[1024];
    snprintf(config, sizeof config, p->config, base);
    signbridge_client *client = NULL;
    check(signbridge_client_new(config, &client), "signbridge_client_new");

    char envelope[2048];
    snprintf(envelope, sizeof envelope,
             "{\"reference\":\"C-EXAMPLE-%ld\",\"title\":\"" TITLE "\",\"documents\":[],"
             "\"parties\":[{\"name\":\"%s\",\"email\":\"%s\",\"role\":\"sign\",\"order\":1},"
             "{\"name\":\"%s\",\"email\":\"%s\",\"role\":\"sign\",\"order\":2}],"
             "\"message\":{\"subject\":\"" TITLE "\",\"body\":\"Segue o contrato para assinatura.\"},"
             "\"sequential\":true}",
             (long)getpid(), SIGNER_NAMES[0], SIGNER_EMAILS[0], SIGNER_NAMES[1], SIGNER_EMAILS[1]);
    static char pdf[4096];
    size_t pdf_len = make_pdf(pdf, sizeof pdf);
    char *handle = NULL;
    check(signbridge_send_with_document(client, envelope, (const uint8_t *)pdf, pdf_len,
                                        "contrato.pdf", &handle),
          "signbridge_send_with_document");
    char id[64];
    json_string(handle, "id", id, sizeof id);
    printf("sent \"%s\" as %s document %s\n", TITLE, p->id, id);

    const char *states[2] = {"partially_signed", "completed"};
    for (int i = 0; i < 2; i++) {
        sandbox_sign(p, base, id, SIGNER_EMAILS[i]);
        wait_for_state(client, handle, states[i]);
        printf("%s signed: %s\n", SIGNER_NAMES[i], states[i]);
    }

    /* The polls above saw the changes; hosts take them as events. */
    int events = 0;
    for (;;) {
        char *event = NULL;
        signbridge_result rc = signbridge_next_event(client, 0, &event);
        if (rc == SIGNBRIDGE_RESULT_NO_EVENT) break;
        check(rc, "signbridge_next_event");
        char kind[64];
        json_string(event, "kind", kind, sizeof kind);
        printf("event: %s\n", kind);
        signbridge_string_free(event);
        events++;
    }
    if (events == 0) fail("no events after the document changed state");

    char handles[512];
    snprintf(handles, sizeof handles, "[%s]", handle);
    char *refreshed = NULL;
    check(signbridge_refresh(client, handles, &refreshed), "signbridge_refresh");
    if (!strstr(refreshed, "\"state\":\"completed\"")) fail("refresh says %s", refreshed);
    signbridge_string_free(refreshed);

    uint8_t *second = NULL;
    size_t second_len = 0;
    check(signbridge_download(client, handle, p->second_kind, &second, &second_len),
          "signbridge_download");
    if (strcmp(p->second_kind, "original") == 0 &&
        (second_len != pdf_len || memcmp(second, pdf, pdf_len) != 0))
        fail("the original came back different (%zu bytes, sent %zu)", second_len, pdf_len);
    if (second_len < 5 || memcmp(second, "%PDF-", 5) != 0) fail("the %s is not a PDF", p->second_kind);
    printf("%s: %zu bytes in memory\n", p->second_kind, second_len);
    signbridge_bytes_free(second, second_len);

    char path[1024];
    snprintf(path, sizeof path, "%s/contrato-%s-assinado.pdf", out_dir, id);
    check(signbridge_download_to_file(client, handle, "signed", path), "signbridge_download_to_file");
    FILE *file = fopen(path, "rb");
    if (!file) fail("cannot open %s", path);
    char magic[5] = {0};
    size_t got = fread(magic, 1, 4, file);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fclose(file);
    if (got != 4 || strcmp(magic, "%PDF") != 0 || size <= (long)pdf_len)
        fail("%s is not the signed PDF (%ld bytes)", path, size);

    printf("signed PDF: %s (%ld bytes)\n", path, size);
    signbridge_string_free(handle);
    signbridge_client_free(client);
    curl_global_cleanup();
    return 0;
}
