/*
 * The whole signing flow through signbridge's C ABI, against the sandbox, for TOTVS Assinatura
 * Eletrônica (tae), ArqSign (arqsign), iDocs (idocs, Kazakhstan) or SBIS / Saby (sbis, Russia):
 * send a contract, make the
 * parties sign through the sandbox's control routes (libcurl, the only thing curl is used for),
 * poll the status, take the events, refresh once more (forced: asking the provider now), call
 * one of the provider's own operations where it has one, download a second file into memory (TAE: the original,
 * which must come back byte for byte; ArqSign: the evidence report; iDocs: the archive; SBIS: the
 * original) and, where the provider has one, the signed PDF to a file, and print the file's path. Only the configuration (account and
 * parties), the host signer and the sandbox's sign route differ by provider: the rest is the
 * same code, which is the point of a provider-neutral API. What a provider can do is asked,
 * not guessed: the example reads the provider's capability record and checks it against the
 * table below.
 *
 *   signing_flow tae|arqsign SANDBOX_URL OUT_DIR
 *   signing_flow idocs|sbis SANDBOX_URL OUT_DIR KEY_PEM CERT_PEM
 *
 * TAE and ArqSign send to two signers in order, who sign by e-mail link. iDocs needs the HOST
 * to sign: during signbridge_send the library calls the host signer registered here, written
 * with OpenSSL (CMS_sign) and the unencrypted PEM private key KEY_PEM (RSA or EC P-256) and its
 * PEM certificate CERT_PEM; then one counterparty, named by its BIN, signs in iDocs. The CMS
 * form (attached, the default, or detached) is the account setting `cms_form`; like every
 * setting it can come from the environment: SIGNBRIDGE_IDOCS_CMS_FORM=detached. SBIS asks the
 * same callback for a detached CMS over each file it prepared; its counterparty, named by
 * ИНН/КПП, then approves the document in SBIS. A throw-away
 * key and certificate for the sandbox (which checks the signature, not the certificate):
 *
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
 *       -subj "/CN=C host signer" -keyout key.pem -out cert.pem
 *
 * With SIGNBRIDGE_EXAMPLE_SIGNER=software the example does not sign itself: it hands the two
 * PEM files to signbridge_set_software_signer_pem and the library signs with them, as a host
 * without a crypto provider of its own would.
 *
 * SANDBOX_URL is what `signbridge sandbox --port 0` prints (SIGNBRIDGE_SANDBOX_URL=...). The
 * document's id ends the line "sent ... as PROVIDER document ID".
 * Build: gcc -Wall -Wextra -Werror -Iinclude examples/c/signing_flow.c -Ltarget/debug -lsignbridge \
 *        -lcurl -lcrypto
 */
#include <curl/curl.h>
#include <limits.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signbridge.h"

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

/* ---- The host signer: OpenSSL's CMS_sign with a key and certificate from PEM files ---- */

struct host_signer {
    EVP_PKEY *key;
    X509 *certificate;
    atomic_int signatures; /* the callback may run on several library threads at once */
};

/* Fails the signature: `what`, then OpenSSL's first error on this thread (its error queue is
 * per thread), as the message signbridge reports. Returns the non-zero code to return. */
static signbridge_result refuse(signbridge_sign_reply *reply, const char *what) {
    char detail[256] = "", message[512];
    unsigned long error = ERR_get_error();
    if (error) ERR_error_string_n(error, detail, sizeof detail);
    ERR_clear_error(); /* leave nothing behind for the thread's next signature */
    snprintf(message, sizeof message, "%s%s%s", what, error ? ": " : "", detail);
    signbridge_sign_reply_set_error(reply, message);
    return 1;
}

/* The signbridge_sign_callback. Runs on a library thread while signbridge_send waits; it must
 * not unwind (plain C: it only has to return), and frees everything it allocates whatever
 * happens: the reply copies the DER. */
static signbridge_result openssl_sign(void *userdata, const uint8_t *data, size_t len,
                                      int32_t form, const char *document_id,
                                      signbridge_sign_reply *reply) {
    struct host_signer *signer = userdata;
    if (form != SIGNBRIDGE_CMS_ATTACHED && form != SIGNBRIDGE_CMS_DETACHED)
        return refuse(reply, "unknown CMS form");
    if (len > INT_MAX) return refuse(reply, "content too large for a memory BIO");

    /* CMS_BINARY: sign the bytes as they are (no MIME canonical line endings). Signed
     * attributes (contentType, messageDigest, signingTime) and the certificate are included,
     * the digest is SHA-256. CMS_DETACHED leaves eContent out. */
    unsigned int flags = CMS_BINARY | (form == SIGNBRIDGE_CMS_DETACHED ? CMS_DETACHED : 0);
    BIO *content = BIO_new_mem_buf(len ? (const void *)data : "", (int)len);
    CMS_ContentInfo *cms =
        content ? CMS_sign(signer->certificate, signer->key, NULL, content, flags) : NULL;
    unsigned char *der = NULL;
    int der_len = cms ? i2d_CMS_ContentInfo(cms, &der) : -1;

    signbridge_result rc;
    if (!content) rc = refuse(reply, "BIO_new_mem_buf failed");
    else if (!cms) rc = refuse(reply, "CMS_sign failed");
    else if (der_len <= 0) rc = refuse(reply, "i2d_CMS_ContentInfo failed");
    else if (signbridge_sign_reply_set_cms(reply, der, (size_t)der_len) != SIGNBRIDGE_RESULT_OK)
        rc = refuse(reply, "signbridge_sign_reply_set_cms failed");
    else rc = SIGNBRIDGE_RESULT_OK;

    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    BIO_free(content);
    if (rc == SIGNBRIDGE_RESULT_OK) {
        atomic_fetch_add(&signer->signatures, 1);
        printf("host signer (OpenSSL): %s CMS of %d bytes over %zu bytes of document %s\n",
               form == SIGNBRIDGE_CMS_DETACHED ? "detached" : "attached", der_len, len,
               document_id ? document_id : "(no id)");
    }
    return rc;
}

static void openssl_fail(const char *what, const char *path) {
    char detail[256] = "";
    ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
    fail("%s %s: %s", what, path, detail);
}

static void load_signer(struct host_signer *signer, const char *key_path, const char *cert_path) {
    FILE *file = fopen(key_path, "r");
    if (!file) fail("cannot open %s", key_path);
    signer->key = PEM_read_PrivateKey(file, NULL, NULL, NULL);
    fclose(file);
    if (!signer->key) openssl_fail("no private key in", key_path);
    file = fopen(cert_path, "r");
    if (!file) fail("cannot open %s", cert_path);
    signer->certificate = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    if (!signer->certificate) openssl_fail("no certificate in", cert_path);
    if (X509_check_private_key(signer->certificate, signer->key) != 1)
        openssl_fail("the private key does not match the certificate", cert_path);
    atomic_init(&signer->signatures, 0);
    fputs("host signer certificate: ", stdout);
    X509_NAME_print_ex_fp(stdout, X509_get_subject_name(signer->certificate), 0,
                          XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB); /* UTF-8 as is */
    fputc('\n', stdout);
}

/* A whole text file, NUL-terminated, in a buffer the caller frees. */
static char *read_text(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) fail("cannot open %s", path);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    rewind(file);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!text || fread(text, 1, (size_t)size, file) != (size_t)size) fail("cannot read %s", path);
    text[size] = '\0';
    fclose(file);
    return text;
}

/* The library's own signer instead of the callback: it copies the PEM text, so the key can be
 * wiped and freed at once. */
static void use_software_signer(const signbridge_client *client, const char *key_path,
                                const char *cert_path) {
    char *key = read_text(key_path), *certificate = read_text(cert_path);
    signbridge_result rc = signbridge_set_software_signer_pem(client, certificate, key);
    memset(key, 0, strlen(key));
    free(key);
    free(certificate);
    check(rc, "signbridge_set_software_signer_pem");
    printf("host signer: signbridge's software signer with %s\n", cert_path);
}

static void free_signer(struct host_signer *signer) {
    X509_free(signer->certificate);
    EVP_PKEY_free(signer->key);
}

/* ---- What differs between providers ---- */

struct party {
    const char *name;
    const char *email;
    const char *tax_id; /* NULL: none */
    const char *state_after; /* the document's state once this party has signed */
};

struct provider {
    const char *id;
    const char *config; /* printf format; each %1$s is the sandbox URL */
    int host_signs; /* the provider needs the host signer during send */
    const char *title;
    const char *message;
    struct party parties[2]; /* in signing order; a NULL name ends the list */
    /* In production a party signs in the provider's site or app; here a sandbox route plays
     * that part. printf formats: sandbox URL and document id; the party's tax id when it has
     * one (the sandbox names iDocs counterparties by BIN), else its e-mail. */
    const char *sign_route;
    const char *sign_body;
    int sequential; /* the envelope asks the parties to sign in order */
    const char *second_kind;
    const char *second_magic;
    const char *signed_file; /* printf format: document id; NULL: no signed PDF to download */
    /* One of the provider's own operations (capability "calls") and its arguments as JSON
     * (NULL: none; a %s stands for the document's id); a NULL name when it has none. */
    const char *call;
    const char *call_args;
};

/* The sandbox's default accounts (see signbridge_sandbox::tae, ::arqsign and ::idocs).
 * Non-ASCII on purpose: the test script checks that the sandbox received these exact
 * characters. This file is UTF-8, as signbridge expects every string to be. */
static const struct provider PROVIDERS[] = {
    {"tae",
     "{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"%1$s/tae/identityintegration\","
     "\"api_base\":\"%1$s/tae\",\"username\":\"svc@signbridge.test\","
     "\"password\":\"sandbox-password\"}}",
     0, "Contrato de prestação de serviços", "Segue o contrato para assinatura.",
     {{"João Araújo", "joao.araujo@cliente.example", NULL, "partially_signed"},
      {"Maria da Conceição Souza", "maria.souza@empresa.example", NULL, "completed"}},
     "%s/__sandbox/tae/documents/%s/sign", "{\"email\":\"%s\"}", 1,
     "original", "%PDF-", "contrato-%s-assinado.pdf", NULL, NULL},
    {"arqsign",
     "{\"provider\":\"arqsign\",\"settings\":{\"base_url\":\"%1$s/arqsign\","
     "\"app_key\":\"a7c3e9f1b5d24680ace13579bdf02468\",\"subscription_key\":\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\","
     "\"responsible_id\":\"6b1f0d8e-2c3a-4e5f-8a9b-0c1d2e3f4a51\","
     "\"folder_id\":\"9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e62\"}}",
     0, "Contrato de prestação de serviços", "Segue o contrato para assinatura.",
     {{"João Araújo", "joao.araujo@cliente.example", NULL, "partially_signed"},
      {"Maria da Conceição Souza", "maria.souza@empresa.example", NULL, "completed"}},
     "%s/__sandbox/arqsign/processes/%s/sign", "{\"email\":\"%s\"}", 1,
     "evidence", "%PDF-", "contrato-%s-assinado.pdf", "folders", "{\"search\":\"root\"}"},
    /* The sender's token and employee; the counterparty is the sandbox's other company. */
    {"idocs",
     "{\"provider\":\"idocs\",\"account\":\"sandbox\",\"settings\":{\"base_url\":\"%1$s/idocs\","
     "\"token\":\"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZDQkMtSFM1MTIiLCJ0eXAiOiJhdCtqd3QifQ"
     ".c2lnbmJyaWRnZS1zYW5kYm94LWNvbXBhbnktYQ.aWRvY3Mtc2FuZGJveA"
     ".QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE.c2VuZGVy\","
     "\"employee_id\":\"7e2d8f3b-4c5a-4b7f-8d9e-2b3c4d5e6f01\"}}",
     1, "Договор поставки № 17 / Жеткізу шарты № 17", "Просим подписать договор.",
     {{"ТОО «Көктем Сауда»", "buh@koktem.example", "123456789012", "completed"}},
     "%s/__sandbox/idocs/documents/%s/counterparty-sign", "{\"bin\":\"%s\"}", 1,
     "archive", "PK\x03\x04", "dogovor-%s-podpisan.pdf", "inbox", NULL},
    /* Our organisation and the sandbox's login; the counterparty by ИНН/КПП (one party, so no
     * order). SBIS's print form is not served by the sandbox: no signed PDF here. */
    {"sbis",
     "{\"provider\":\"sbis\",\"account\":\"sandbox\",\"settings\":{"
     "\"auth_url\":\"%1$s/sbis/auth/service/\",\"service_url\":\"%1$s/sbis/service/?srv=1\","
     "\"login\":\"sandbox\",\"password\":\"sandbox-secret\","
     "\"our_inn\":\"7700000001\",\"our_kpp\":\"770001001\"}}",
     1, "Договор поставки № 17 «Премьер»", "Просим утвердить договор.",
     {{"СК Премьер, ОАО", "edo@premier.example", "7601000985/760601001", "completed"}},
     "%s/__sandbox/sbis/documents/%s/counterparty-sign", "{}", 0,
     "original", "%PDF-", NULL, "read", "{\"id\":\"%s\"}"},
};

static void sandbox_sign(const struct provider *p, const char *base, const char *id,
                         const struct party *party) {
    char url[512], body[256];
    snprintf(url, sizeof url, p->sign_route, base, id);
    snprintf(body, sizeof body, p->sign_body, party->tax_id ? party->tax_id : party->email);
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

static void download_signed(const signbridge_client *client, const struct provider *p,
                            const char *handle, const char *id, const char *out_dir,
                            size_t pdf_len);

int main(int argc, char **argv) {
    const struct provider *p = NULL;
    for (size_t i = 0; argc >= 4 && i < sizeof PROVIDERS / sizeof PROVIDERS[0]; i++)
        if (strcmp(argv[1], PROVIDERS[i].id) == 0) p = &PROVIDERS[i];
    if (!p || argc != (p->host_signs ? 6 : 4)) {
        fprintf(stderr,
                "usage: %s tae|arqsign SANDBOX_URL OUT_DIR\n"
                "       %s idocs|sbis SANDBOX_URL OUT_DIR KEY_PEM CERT_PEM\n",
                argv[0], argv[0]);
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

    /* The capability record (the same JSON as `signbridge capabilities --provider ID`). */
    char *capability = NULL;
    check(signbridge_capability(client, &capability), "signbridge_capability");
    int host_signature = strstr(capability, "\"host_signature\":true") != NULL;
    int has_call = !p->call || strstr(capability, p->call) != NULL;
    printf("capability: %s\n", capability);
    signbridge_string_free(capability);
    if (host_signature != p->host_signs || !has_call)
        fail("the capability record disagrees with the example's table for %s", p->id);

    /* The signer (and its key) must outlive every call on the client: freed after it. */
    struct host_signer signer = {0};
    const char *signer_kind = getenv("SIGNBRIDGE_EXAMPLE_SIGNER");
    int software = signer_kind && strcmp(signer_kind, "software") == 0;
    if (p->host_signs && software) {
        use_software_signer(client, argv[4], argv[5]);
    } else if (p->host_signs) {
        load_signer(&signer, argv[4], argv[5]);
        check(signbridge_set_host_signer(client, openssl_sign, &signer),
              "signbridge_set_host_signer");
    }

    char parties[1024] = "";
    size_t used = 0;
    for (int i = 0; i < 2 && p->parties[i].name; i++) {
        const struct party *party = &p->parties[i];
        char tax_id[64] = "";
        if (party->tax_id) snprintf(tax_id, sizeof tax_id, ",\"tax_id\":\"%s\"", party->tax_id);
        used += (size_t)snprintf(parties + used, sizeof parties - used,
                                 "%s{\"name\":\"%s\",\"email\":\"%s\"%s,\"role\":\"sign\",\"order\":%d}",
                                 i ? "," : "", party->name, party->email, tax_id, i + 1);
        if (used >= sizeof parties) fail("parties buffer too small");
    }
    char envelope[2048];
    snprintf(envelope, sizeof envelope,
             "{\"reference\":\"C-EXAMPLE-%ld\",\"title\":\"%s\",\"documents\":[],"
             "\"parties\":[%s],\"message\":{\"subject\":\"%s\",\"body\":\"%s\"},"
             "\"sequential\":%s}",
             (long)getpid(), p->title, parties, p->title, p->message,
             p->sequential ? "true" : "false");
    static char pdf[4096];
    size_t pdf_len = make_pdf(pdf, sizeof pdf);
    char *handle = NULL;
    check(signbridge_send_with_document(client, envelope, (const uint8_t *)pdf, pdf_len,
                                        "contrato.pdf", &handle),
          "signbridge_send_with_document");
    char id[64];
    json_string(handle, "id", id, sizeof id);
    printf("sent \"%s\" as %s document %s\n", p->title, p->id, id);
    if (p->host_signs && !software && atomic_load(&signer.signatures) != 1)
        fail("the host signer signed %d times, expected once", atomic_load(&signer.signatures));
    wait_for_state(client, handle, "sent");

    for (int i = 0; i < 2 && p->parties[i].name; i++) {
        sandbox_sign(p, base, id, &p->parties[i]);
        wait_for_state(client, handle, p->parties[i].state_after);
        printf("%s signed: %s\n", p->parties[i].name, p->parties[i].state_after);
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

    /* A batch refresh, forced: ask the provider now even where it asks to be polled sparingly
     * (ArqSign would otherwise answer from the reading the polls above made). A bare id is a
     * handle of the client's account. */
    char handles[512];
    snprintf(handles, sizeof handles, "[%s, \"%s\"]", handle, id);
    char *refreshed = NULL;
    check(signbridge_refresh_forced(client, handles, &refreshed), "signbridge_refresh_forced");
    const char *first = strstr(refreshed, "\"state\":\"completed\"");
    if (!first || !strstr(first + 1, "\"state\":\"completed\"")) fail("refresh says %s", refreshed);
    signbridge_string_free(refreshed);

    if (p->call) {
        char *result = NULL;
        char args[256];
        /* A %s in the arguments stands for the document's id. */
        if (p->call_args) snprintf(args, sizeof args, p->call_args, id);
        check(signbridge_call(client, p->call, p->call_args ? args : NULL, &result),
              "signbridge_call");
        printf("%s: %zu bytes of JSON\n", p->call, strlen(result));
        signbridge_string_free(result);
    }

    uint8_t *second = NULL;
    size_t second_len = 0, magic_len = strlen(p->second_magic);
    check(signbridge_download(client, handle, p->second_kind, &second, &second_len),
          "signbridge_download");
    if (strcmp(p->second_kind, "original") == 0 &&
        (second_len != pdf_len || memcmp(second, pdf, pdf_len) != 0))
        fail("the original came back different (%zu bytes, sent %zu)", second_len, pdf_len);
    if (second_len < magic_len || memcmp(second, p->second_magic, magic_len) != 0)
        fail("the %s is not what it should be (%zu bytes)", p->second_kind, second_len);
    printf("%s: %zu bytes in memory\n", p->second_kind, second_len);
    signbridge_bytes_free(second, second_len);

    if (p->signed_file) download_signed(client, p, handle, id, out_dir, pdf_len);
    else printf("no signed PDF for %s\n", p->id);
    signbridge_string_free(handle);
    signbridge_client_free(client);
    if (p->host_signs) free_signer(&signer);
    curl_global_cleanup();
    return 0;
}

/* The signed PDF, streamed to a file in OUT_DIR; it must be larger than what was sent. */
static void download_signed(const signbridge_client *client, const struct provider *p,
                            const char *handle, const char *id, const char *out_dir,
                            size_t pdf_len) {
    char name[128], path[1024];
    snprintf(name, sizeof name, p->signed_file, id);
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
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
}
