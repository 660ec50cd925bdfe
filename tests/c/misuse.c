/*
 * The C ABI under misuse: NULL in every pointer position, invalid UTF-8, malformed and
 * wrong-typed JSON, unknown handles, very long strings, _free(NULL), a forced panic (which must
 * print nothing on stderr), and one client shared by several threads. Every call must return
 * its documented code, write no output on failure, and leave the process alive. Each export
 * also gets one call that works (validate, capability, capabilities, refresh_forced and call;
 * changes, which no provider has yet, its documented refusal). Run under valgrind by
 * scripts/test-ffi.sh.
 *
 *   misuse SANDBOX_URL
 *
 * Links against a library built with feature `test-panic` (for signbridge_test_panic, which
 * shipped libraries do not have, so it is declared here rather than in the header).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signbridge.h"

signbridge_result signbridge_test_panic(void);

static int passed, failed;

/* Checks one expectation and, on failure, shows the library's last error. */
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

/* `call` returns `code`, and the thread's last error then has that code and mentions `text`. */
#define EXPECT_CODE(call, code, text)                                                       \
    do {                                                                                    \
        signbridge_result rc_ = (call);                                                     \
        EXPECT(rc_ == (code), "%s returned %d, expected %d\n", #call, (int)rc_, (int)(code)); \
        if (rc_ != SIGNBRIDGE_RESULT_OK)                                                    \
            EXPECT(signbridge_last_error_code() == rc_ &&                                   \
                       strstr(signbridge_last_error_message(), (text)) != NULL,             \
                   "%s: last error should be %d mentioning \"%s\"\n", #call, (int)rc_, (text)); \
    } while (0)

/* What out-parameters hold before a call: a failed call must leave it there. */
#define UNTOUCHED ((char *)(uintptr_t)0x5a5a)

static const char *VALID_HANDLE = "tae:default:424242";
static const char *UNKNOWN_HANDLE = "tae:default:999999999";
static const char *ENVELOPE =
    "{\"reference\":\"MISUSE-1\",\"title\":\"Contrato\",\"documents\":[],"
    "\"parties\":[{\"name\":\"João Araújo\",\"email\":\"joao@cliente.example\"}]}";
/* One that signbridge_send would send: a PDF ("%PDF-1.4\n") in base64. */
static const char *VALID_ENVELOPE =
    "{\"reference\":\"MISUSE-2\",\"title\":\"Contrato\","
    "\"documents\":[{\"name\":\"contrato.pdf\",\"content_base64\":\"JVBERi0xLjQK\"}],"
    "\"parties\":[{\"name\":\"João Araújo\",\"email\":\"joao@cliente.example\"}]}";

static void versions(void) {
    EXPECT(signbridge_abi_version() == SIGNBRIDGE_ABI_VERSION, "ABI version\n");
    EXPECT(strcmp(signbridge_version(), SIGNBRIDGE_VERSION_STRING) == 0, "version string\n");
}

static void client_new_misuse(const char *config) {
    signbridge_client *client = (signbridge_client *)UNTOUCHED;
    EXPECT_CODE(signbridge_client_new(NULL, &client), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "config_json is NULL");
    EXPECT_CODE(signbridge_client_new(config, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_client is NULL");
    EXPECT_CODE(signbridge_client_new("{\"provider\":\"ta\xe9\"}", &client),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "config_json is not UTF-8");
    EXPECT_CODE(signbridge_client_new("{\"provider\":", &client), SIGNBRIDGE_RESULT_INVALID_JSON,
                "config_json: EOF");
    EXPECT_CODE(signbridge_client_new("42", &client), SIGNBRIDGE_RESULT_INVALID_JSON,
                "config_json: invalid type: integer `42`");
    EXPECT_CODE(signbridge_client_new("{\"provider\":[1]}", &client),
                SIGNBRIDGE_RESULT_INVALID_JSON, "invalid type: sequence, expected a string");
    EXPECT_CODE(signbridge_client_new("{\"provider\":\"tae\",\"setings\":{}}", &client),
                SIGNBRIDGE_RESULT_INVALID_JSON, "unknown field `setings`");
    EXPECT_CODE(signbridge_client_new("{\"provider\":\"nope\"}", &client),
                SIGNBRIDGE_RESULT_CONFIG, "nope");
    EXPECT(client == (signbridge_client *)UNTOUCHED, "client_new wrote its output on failure\n");
}

static void send_misuse(const signbridge_client *client) {
    char *out = UNTOUCHED;
    const uint8_t pdf[] = "%PDF-1.4 not really";
    EXPECT_CODE(signbridge_send(NULL, ENVELOPE, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_send(client, NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "envelope_json is NULL");
    EXPECT_CODE(signbridge_send(client, ENVELOPE, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_handle_json is NULL");
    EXPECT_CODE(signbridge_send(client, "{\"title\":\"\xff\xfe\"}", &out),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "envelope_json is not UTF-8");
    /* A bad envelope is a validation error, as in the CLI and Python: the field, or the line
     * and column of malformed JSON. */
    EXPECT_CODE(signbridge_send(client, "{\"reference\":\n", &out), SIGNBRIDGE_RESULT_VALIDATION,
                "envelope: not valid JSON at line 2 column 0");
    EXPECT_CODE(signbridge_send(client,
                                "{\"reference\":\"r\",\"title\":\"t\",\"documents\":3,"
                                "\"parties\":[]}",
                                &out),
                SIGNBRIDGE_RESULT_VALIDATION, "documents: invalid type: integer `3`");
    EXPECT_CODE(signbridge_send(client, "{\"reference\":\"r\",\"parties\":[]}", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "missing field `title`");
    /* Well-formed but invalid: core's validation names the field, before any request. */
    EXPECT_CODE(signbridge_send(client, ENVELOPE, &out), SIGNBRIDGE_RESULT_VALIDATION,
                "documents");

    EXPECT_CODE(signbridge_send_with_document(NULL, ENVELOPE, pdf, sizeof pdf, "a.pdf", &out),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_send_with_document(client, NULL, pdf, sizeof pdf, "a.pdf", &out),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "envelope_json is NULL");
    EXPECT_CODE(signbridge_send_with_document(client, ENVELOPE, NULL, 10, "a.pdf", &out),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "bytes is NULL");
    EXPECT_CODE(signbridge_send_with_document(client, ENVELOPE, pdf, sizeof pdf, NULL, &out),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "name is NULL");
    EXPECT_CODE(signbridge_send_with_document(client, ENVELOPE, pdf, sizeof pdf, "a.pdf", NULL),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "out_handle_json is NULL");
    EXPECT_CODE(signbridge_send_with_document(client, ENVELOPE, pdf, sizeof pdf, "contr\xe1to.pdf",
                                              &out),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "name is not UTF-8");
    /* NULL with length 0 is an empty document: core refuses it by name. */
    EXPECT_CODE(signbridge_send_with_document(client, ENVELOPE, NULL, 0, "vazio.pdf", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "documents[0]");
    EXPECT_CODE(signbridge_send_with_document(client, ENVELOPE, pdf, sizeof pdf, "planilha.xls",
                                              &out),
                SIGNBRIDGE_RESULT_VALIDATION, "documents[0]");
    EXPECT(out == UNTOUCHED, "send wrote its output on failure\n");
}

static void handle_misuse(const signbridge_client *client, const char *long_handle) {
    char *out = UNTOUCHED;
    EXPECT_CODE(signbridge_status(NULL, VALID_HANDLE, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_status(client, NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "handle is NULL");
    EXPECT_CODE(signbridge_status(client, VALID_HANDLE, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_status_json is NULL");
    EXPECT_CODE(signbridge_status(client, "tae:default:\xc3", &out), SIGNBRIDGE_RESULT_INVALID_UTF8,
                "handle is not UTF-8");
    EXPECT_CODE(signbridge_status(client, "{\"provider\":\"tae\"", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "handle: not valid JSON at line 1");
    EXPECT_CODE(signbridge_status(client, "{\"provider\":1,\"account\":\"a\",\"id\":\"1\"}", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "handle.provider: invalid type: integer");
    EXPECT_CODE(signbridge_status(client, "tae::1", &out), SIGNBRIDGE_RESULT_VALIDATION, "handle");
    /* A bare id is one of the client's account: this one the sandbox does not know. */
    EXPECT_CODE(signbridge_status(client, "999999999", &out), SIGNBRIDGE_RESULT_NOT_FOUND, "");
    EXPECT_CODE(signbridge_status(client, "tae:outra-conta:1", &out), SIGNBRIDGE_RESULT_VALIDATION,
                "belongs to tae:outra-conta");
    EXPECT_CODE(signbridge_status(client, UNKNOWN_HANDLE, &out), SIGNBRIDGE_RESULT_NOT_FOUND, "");
    EXPECT(signbridge_last_error_http_status() == 404, "unknown handle: HTTP %d\n",
           (int)signbridge_last_error_http_status());
    EXPECT_CODE(signbridge_status(client, long_handle, &out), SIGNBRIDGE_RESULT_VALIDATION,
                "belongs to tae:");
    EXPECT(out == UNTOUCHED, "status wrote its output on failure\n");

    EXPECT_CODE(signbridge_cancel(NULL, VALID_HANDLE), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_cancel(client, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "handle is NULL");
    EXPECT_CODE(signbridge_cancel(client, UNKNOWN_HANDLE), SIGNBRIDGE_RESULT_NOT_FOUND, "");
}

static void refresh_misuse(const signbridge_client *client) {
    char *out = UNTOUCHED;
    EXPECT_CODE(signbridge_refresh(NULL, "[]", &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_refresh(client, NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "handles_json is NULL");
    EXPECT_CODE(signbridge_refresh(client, "[]", NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_refresh(client, "[\"\x80\"]", &out), SIGNBRIDGE_RESULT_INVALID_UTF8,
                "handles_json is not UTF-8");
    EXPECT_CODE(signbridge_refresh(client, "not json", &out), SIGNBRIDGE_RESULT_VALIDATION,
                "handles: not valid JSON at line 1 column 2");
    EXPECT_CODE(signbridge_refresh(client, "{\"handles\":[]}", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "invalid type: map");
    EXPECT_CODE(signbridge_refresh(client, "[\"tae:default:1\", true]", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "handles[1]: expected a handle");
    EXPECT_CODE(signbridge_refresh(client, "[{\"id\":\"1\"}]", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "handles[0]: missing field");
    EXPECT(out == UNTOUCHED, "refresh wrote its output on failure\n");

    EXPECT_CODE(signbridge_refresh_forced(NULL, "[]", &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_refresh_forced(client, NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "handles_json is NULL");
    EXPECT_CODE(signbridge_refresh_forced(client, "[]", NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_refresh_forced(client, "[\"\xe9\"]", &out),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "handles_json is not UTF-8");
    EXPECT_CODE(signbridge_refresh_forced(client, "[", &out), SIGNBRIDGE_RESULT_VALIDATION,
                "handles: not valid JSON");
    EXPECT(out == UNTOUCHED, "refresh_forced wrote its output on failure\n");
    /* A bare id among them, asked now. */
    EXPECT_CODE(signbridge_refresh_forced(client, "[\"999999999\"]", &out), SIGNBRIDGE_RESULT_OK, "");
    if (out != UNTOUCHED) {
        EXPECT(strstr(out, "\"id\":\"999999999\"") && strstr(out, "\"code\":301"),
               "forced refresh of a bare id: %s\n", out);
        signbridge_string_free(out);
    }
    out = UNTOUCHED;

    EXPECT_CODE(signbridge_refresh(client, "[]", &out), SIGNBRIDGE_RESULT_OK, "");
    EXPECT(out != UNTOUCHED && strcmp(out, "[]") == 0, "empty refresh: %s\n", out);
    signbridge_string_free(out);

    /* Per-handle failures are entries, not a failed call. */
    out = UNTOUCHED;
    EXPECT_CODE(signbridge_refresh(client, "[\"tae:default:999999999\", \"tae:outra:1\"]", &out),
                SIGNBRIDGE_RESULT_OK, "");
    if (out != UNTOUCHED) {
        EXPECT(strstr(out, "\"code\":301") && strstr(out, "\"http_status\":404"),
               "not found entry: %s\n", out);
        EXPECT(strstr(out, "\"code\":300") && strstr(out, "\"kind\":\"validation\""),
               "other account entry: %s\n", out);
        signbridge_string_free(out);
    }
}

static void download_misuse(const signbridge_client *client) {
    uint8_t *bytes = (uint8_t *)UNTOUCHED;
    size_t len = 77;
    EXPECT_CODE(signbridge_download(NULL, VALID_HANDLE, "signed", &bytes, &len),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_download(client, NULL, "signed", &bytes, &len),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "handle is NULL");
    EXPECT_CODE(signbridge_download(client, VALID_HANDLE, NULL, &bytes, &len),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "kind is NULL");
    EXPECT_CODE(signbridge_download(client, VALID_HANDLE, "signed", NULL, &len),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "out_bytes is NULL");
    EXPECT_CODE(signbridge_download(client, VALID_HANDLE, "signed", &bytes, NULL),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "out_len is NULL");
    EXPECT_CODE(signbridge_download(client, VALID_HANDLE, "assinado", &bytes, &len),
                SIGNBRIDGE_RESULT_VALIDATION, "unknown download kind");
    EXPECT_CODE(signbridge_download(client, VALID_HANDLE, "evidence", &bytes, &len),
                SIGNBRIDGE_RESULT_UNSUPPORTED, "evidence");
    EXPECT_CODE(signbridge_download(client, UNKNOWN_HANDLE, "signed", &bytes, &len),
                SIGNBRIDGE_RESULT_NOT_FOUND, "");
    EXPECT(bytes == (uint8_t *)UNTOUCHED && len == 77, "download wrote its outputs on failure\n");

    EXPECT_CODE(signbridge_download_to_file(NULL, VALID_HANDLE, "signed", "x.pdf"),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_download_to_file(client, NULL, "signed", "x.pdf"),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "handle is NULL");
    EXPECT_CODE(signbridge_download_to_file(client, VALID_HANDLE, NULL, "x.pdf"),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "kind is NULL");
    EXPECT_CODE(signbridge_download_to_file(client, VALID_HANDLE, "signed", NULL),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "path is NULL");
    EXPECT_CODE(signbridge_download_to_file(client, VALID_HANDLE, "signed", "/tmp/\xe7.pdf"),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "path is not UTF-8");
    EXPECT_CODE(signbridge_download_to_file(client, UNKNOWN_HANDLE, "signed", "/nonexistent/dir/x.pdf"),
                SIGNBRIDGE_RESULT_VALIDATION, "cannot create");
}

static void events_and_signer_misuse(const signbridge_client *client) {
    char *out = UNTOUCHED;
    EXPECT_CODE(signbridge_next_event(NULL, 0, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_next_event(client, 0, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_event_json is NULL");
    EXPECT_CODE(signbridge_next_event(client, 20, &out), SIGNBRIDGE_RESULT_NO_EVENT,
                "no event within 20 ms");
    EXPECT(out == UNTOUCHED, "next_event wrote its output without an event\n");

    EXPECT_CODE(signbridge_set_host_signer(NULL, NULL, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_sign_reply_set_cms(NULL, (const uint8_t *)"0", 1),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "reply is NULL");
    EXPECT_CODE(signbridge_sign_reply_set_error(NULL, "x"), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "reply is NULL");

    EXPECT_CODE(signbridge_set_software_signer_pem(NULL, "", ""), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_set_software_signer_pem(client, NULL, ""),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "certificate_pem is NULL");
    EXPECT_CODE(signbridge_set_software_signer_pem(client, "", NULL),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "private_key_pem is NULL");
    EXPECT_CODE(signbridge_set_software_signer_pem(client, "\xff", "\xff"),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "certificate_pem is not UTF-8");
    EXPECT_CODE(signbridge_set_software_signer_pem(client, "no PEM here", "nor here"),
                SIGNBRIDGE_RESULT_SIGNING, "could not be loaded");
    EXPECT(strstr(signbridge_last_error_provider_message(), "CERTIFICATE") != NULL,
           "the reason should name the missing certificate: %s\n",
           signbridge_last_error_provider_message());
    EXPECT_CODE(signbridge_set_software_signer_pkcs12(NULL, (const uint8_t *)"0", 1, ""),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_set_software_signer_pkcs12(client, NULL, 1, ""),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "pkcs12 is NULL");
    EXPECT_CODE(signbridge_set_software_signer_pkcs12(client, (const uint8_t *)"0", 1, NULL),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "password is NULL");
    EXPECT_CODE(signbridge_set_software_signer_pkcs12(client, (const uint8_t *)"not a pfx", 9, ""),
                SIGNBRIDGE_RESULT_SIGNING, "could not be loaded");
    EXPECT_CODE(signbridge_set_software_signer_pkcs12(client, NULL, 0, ""),
                SIGNBRIDGE_RESULT_SIGNING, "could not be loaded");
}

static signbridge_result never_called(void *userdata, const uint8_t *data, size_t len, int32_t form,
                                      const char *document_id, signbridge_sign_reply *reply) {
    (void)userdata, (void)data, (void)len, (void)form, (void)document_id, (void)reply;
    return 1;
}

static void signer_registration(const signbridge_client *client) {
    int userdata = 0;
    EXPECT_CODE(signbridge_set_host_signer(client, never_called, &userdata), SIGNBRIDGE_RESULT_OK, "");
    EXPECT_CODE(signbridge_set_host_signer(client, never_called, &userdata), SIGNBRIDGE_RESULT_OK, "");
    EXPECT_CODE(signbridge_set_host_signer(client, NULL, NULL), SIGNBRIDGE_RESULT_OK, "");
}

static void validate_misuse(const signbridge_client *client) {
    EXPECT_CODE(signbridge_validate(NULL, VALID_ENVELOPE), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_validate(client, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "envelope_json is NULL");
    EXPECT_CODE(signbridge_validate(client, "{\"title\":\"\xc3\x28\"}"),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "envelope_json is not UTF-8");
    EXPECT_CODE(signbridge_validate(client, "{\"reference\": \"r\",}"),
                SIGNBRIDGE_RESULT_VALIDATION, "envelope: not valid JSON at line 1 column");
    EXPECT_CODE(signbridge_validate(client, ENVELOPE), SIGNBRIDGE_RESULT_VALIDATION, "documents");
    EXPECT_CODE(signbridge_validate(client, VALID_ENVELOPE), SIGNBRIDGE_RESULT_OK, "");
}

static void capability_misuse(const signbridge_client *client) {
    char *out = UNTOUCHED;
    EXPECT_CODE(signbridge_capability(NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_capability(client, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_capabilities("tae", NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_capabilities("ta\xe9", &out), SIGNBRIDGE_RESULT_INVALID_UTF8,
                "provider is not UTF-8");
    EXPECT_CODE(signbridge_capabilities("sbiss", &out), SIGNBRIDGE_RESULT_VALIDATION,
                "unknown provider \"sbiss\"");
    EXPECT(out == UNTOUCHED, "capabilities wrote its output on failure\n");

    /* The client's record is its provider's, and one of everyone's. */
    char *own = NULL, *tae = NULL, *all = NULL;
    EXPECT_CODE(signbridge_capability(client, &own), SIGNBRIDGE_RESULT_OK, "");
    EXPECT_CODE(signbridge_capabilities("tae", &tae), SIGNBRIDGE_RESULT_OK, "");
    EXPECT_CODE(signbridge_capabilities(NULL, &all), SIGNBRIDGE_RESULT_OK, "");
    EXPECT(own && tae && strcmp(own, tae) == 0, "capability %s, capabilities(tae) %s\n", own, tae);
    EXPECT(own && strstr(own, "\"provider\":\"tae\"") && strstr(own, "\"host_signature\":false"),
           "record: %s\n", own);
    EXPECT(own && all && all[0] == '[' && strstr(all, own) && strstr(all, "\"provider\":\"idocs\""),
           "every record: %s\n", all);
    signbridge_string_free(own);
    signbridge_string_free(tae);
    signbridge_string_free(all);
}

/* `arqsign` is an ArqSign client of the sandbox: the TAE one declares no calls. */
static void call_and_changes_misuse(const signbridge_client *client,
                                    const signbridge_client *arqsign) {
    char *out = UNTOUCHED;
    EXPECT_CODE(signbridge_call(NULL, "users", NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_call(arqsign, NULL, NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "name is NULL");
    EXPECT_CODE(signbridge_call(arqsign, "users", "{}", NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_call(arqsign, "us\xe9rs", NULL, &out), SIGNBRIDGE_RESULT_INVALID_UTF8,
                "name is not UTF-8");
    EXPECT_CODE(signbridge_call(arqsign, "users", "{\"ids\":[\"\xff\"]}", &out),
                SIGNBRIDGE_RESULT_INVALID_UTF8, "args_json is not UTF-8");
    EXPECT_CODE(signbridge_call(arqsign, "users", "{\"ids\":", &out), SIGNBRIDGE_RESULT_VALIDATION,
                "args: not valid JSON at line 1 column 7");
    EXPECT_CODE(signbridge_call(arqsign, "users", "{\"idz\":[]}", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "unknown field `idz`");
    EXPECT_CODE(signbridge_call(client, "users", "{}", &out), SIGNBRIDGE_RESULT_UNSUPPORTED,
                "tae does not support users");
    EXPECT(out == UNTOUCHED, "call wrote its output on failure\n");
    EXPECT_CODE(signbridge_call(arqsign, "folders", "{\"search\":\"root\"}", &out),
                SIGNBRIDGE_RESULT_OK, "");
    if (out != UNTOUCHED) {
        EXPECT(out[0] == '[' || out[0] == '{', "folders: %s\n", out);
        signbridge_string_free(out);
    }

    out = UNTOUCHED;
    EXPECT_CODE(signbridge_changes(NULL, NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_changes(client, NULL, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_changes(client, "\xff", &out), SIGNBRIDGE_RESULT_INVALID_UTF8,
                "cursor is not UTF-8");
    /* No provider keeps a change list yet: refused by the capability record, no request. */
    EXPECT_CODE(signbridge_changes(client, NULL, &out), SIGNBRIDGE_RESULT_UNSUPPORTED,
                "tae does not support changes");
    EXPECT_CODE(signbridge_changes(arqsign, "c-1", &out), SIGNBRIDGE_RESULT_UNSUPPORTED,
                "arqsign does not support changes");
    EXPECT(out == UNTOUCHED, "changes wrote its output on failure\n");
}

/* The journal's exports: NULL and non-UTF-8 arguments, bad resolutions, unknown references;
 * and one call of each that works (an empty journal: nothing pending, TAE has no budget). */
static void journal_misuse(const signbridge_client *client) {
    char *out = UNTOUCHED;
    EXPECT_CODE(signbridge_send_new_document(NULL, VALID_ENVELOPE, &out),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_send_new_document(client, NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "envelope_json is NULL");
    EXPECT_CODE(signbridge_send_new_document(client, VALID_ENVELOPE, NULL),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "out_handle_json is NULL");
    EXPECT_CODE(signbridge_send_new_document(client, "{\"reference\":", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "envelope: not valid JSON");
    EXPECT_CODE(signbridge_reconcile(NULL, "R", &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "client is NULL");
    EXPECT_CODE(signbridge_reconcile(client, "R", NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_reconcile(client, "\xff", &out), SIGNBRIDGE_RESULT_INVALID_UTF8,
                "reference is not UTF-8");
    EXPECT_CODE(signbridge_reconcile(client, "MISUSE-NEVER", &out), SIGNBRIDGE_RESULT_NOT_FOUND,
                "MISUSE-NEVER");
    EXPECT_CODE(signbridge_pending(NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_pending(client, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT_CODE(signbridge_resolve(NULL, "R", "{\"not_sent\":true}", &out),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_resolve(client, NULL, "{\"not_sent\":true}", &out),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "reference is NULL");
    EXPECT_CODE(signbridge_resolve(client, "R", NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "resolution_json is NULL");
    EXPECT_CODE(signbridge_resolve(client, "R", "{\"not_sent\":true}", NULL),
                SIGNBRIDGE_RESULT_NULL_ARGUMENT, "out_json is NULL");
    EXPECT_CODE(signbridge_resolve(client, "R", "{\"sent_as\":\"1\",\"not_sent\":true}", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "resolution: give exactly one");
    EXPECT_CODE(signbridge_resolve(client, "R", "{\"sent_as\":", &out),
                SIGNBRIDGE_RESULT_VALIDATION, "resolution: not valid JSON");
    EXPECT_CODE(signbridge_resolve(client, "MISUSE-NEVER", "{\"not_sent\":true}", &out),
                SIGNBRIDGE_RESULT_NOT_FOUND, "MISUSE-NEVER");
    EXPECT_CODE(signbridge_budget(NULL, &out), SIGNBRIDGE_RESULT_NULL_ARGUMENT, "client is NULL");
    EXPECT_CODE(signbridge_budget(client, NULL), SIGNBRIDGE_RESULT_NULL_ARGUMENT,
                "out_json is NULL");
    EXPECT(out == UNTOUCHED, "a journal call wrote its output on failure\n");

    EXPECT_CODE(signbridge_budget(client, &out), SIGNBRIDGE_RESULT_OK, "");
    if (out != UNTOUCHED) {
        EXPECT(strcmp(out, "[]") == 0, "TAE's budget: %s\n", out);
        signbridge_string_free(out);
    }
    out = UNTOUCHED;
    EXPECT_CODE(signbridge_reconcile(client, NULL, &out), SIGNBRIDGE_RESULT_OK, "");
    if (out != UNTOUCHED) {
        EXPECT(out[0] == '[', "reconcile every pending: %s\n", out);
        signbridge_string_free(out);
    }
    out = UNTOUCHED;
    EXPECT_CODE(signbridge_pending(client, &out), SIGNBRIDGE_RESULT_OK, "");
    if (out != UNTOUCHED) {
        EXPECT(out[0] == '[', "pending: %s\n", out);
        signbridge_string_free(out);
    }
}

static void frees_accept_null(void) {
    signbridge_string_free(NULL);
    signbridge_bytes_free(NULL, 0);
    signbridge_bytes_free(NULL, 123);
    signbridge_client_free(NULL);
    passed++;
}

/* Calls signbridge_test_panic with stderr sent to a temporary file, and puts the start of what
 * it wrote there into `printed` ("" when nothing). */
static signbridge_result test_panic_capturing_stderr(char *printed, size_t size) {
    FILE *capture = tmpfile();
    int saved = dup(STDERR_FILENO);
    if (!capture || saved < 0 || dup2(fileno(capture), STDERR_FILENO) < 0) {
        perror("capturing stderr");
        exit(2);
    }
    signbridge_result rc = signbridge_test_panic();
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(capture);
    size_t n = fread(printed, 1, size - 1, capture);
    printed[n] = '\0';
    fclose(capture);
    return rc;
}

static void panic_is_caught(const signbridge_client *client) {
    char printed[512];
    EXPECT_CODE(test_panic_capturing_stderr(printed, sizeof printed), SIGNBRIDGE_RESULT_PANIC,
                "signbridge_test_panic was called");
    /* The host's stderr is the host's: the message reaches it as the last error only. */
    EXPECT(printed[0] == '\0', "the panic printed on stderr: %s\n", printed);
    /* Still usable afterwards. */
    char *out = UNTOUCHED;
    EXPECT_CODE(signbridge_refresh(client, "[]", &out), SIGNBRIDGE_RESULT_OK, "");
    if (out != UNTOUCHED) signbridge_string_free(out);
}

/* Each thread's last error is its own; the client serves them all at once. */
struct worker {
    const signbridge_client *client;
    const char *handle;
    signbridge_result rc, last_code;
};

static void *work(void *arg) {
    struct worker *w = arg;
    char *out = UNTOUCHED;
    w->rc = signbridge_status(w->client, w->handle, &out);
    w->last_code = signbridge_last_error_code();
    if (w->rc == SIGNBRIDGE_RESULT_OK) signbridge_string_free(out);
    return NULL;
}

static void shared_between_threads(const signbridge_client *client) {
    enum { N = 6 };
    pthread_t threads[N];
    struct worker workers[N];
    for (int i = 0; i < N; i++) {
        workers[i] = (struct worker){client, i % 2 ? UNKNOWN_HANDLE : "tae:outra:1", -1, -1};
        EXPECT(pthread_create(&threads[i], NULL, work, &workers[i]) == 0, "pthread_create\n");
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        signbridge_result want = i % 2 ? SIGNBRIDGE_RESULT_NOT_FOUND : SIGNBRIDGE_RESULT_VALIDATION;
        EXPECT(workers[i].rc == want && workers[i].last_code == want,
               "thread %d: rc %d, last error %d, expected %d\n", i, (int)workers[i].rc,
               (int)workers[i].last_code, (int)want);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SANDBOX_URL\n", argv[0]);
        return 2;
    }
    char config[1024];
    snprintf(config, sizeof config,
             "{\"provider\":\"tae\",\"settings\":{\"auth_base\":\"%s/tae/identityintegration\","
             "\"api_base\":\"%s/tae\",\"username\":\"svc@signbridge.test\","
             "\"password\":\"sandbox-password\"}}",
             argv[1], argv[1]);
    /* The sandbox's default ArqSign account (signbridge_sandbox::arqsign). */
    char arqsign_config[1024];
    snprintf(arqsign_config, sizeof arqsign_config,
             "{\"provider\":\"arqsign\",\"settings\":{\"base_url\":\"%s/arqsign\","
             "\"app_key\":\"a7c3e9f1b5d24680ace13579bdf02468\","
             "\"subscription_key\":\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"}}",
             argv[1]);

    /* A 1 MiB handle: of another account, so it fails in core's check with the text intact. */
    size_t long_len = 1 << 20;
    char *long_handle = malloc(long_len + 1);
    memcpy(long_handle, "tae:x:", 6);
    memset(long_handle + 6, '9', long_len - 6);
    long_handle[long_len] = '\0';

    versions();
    client_new_misuse(config);
    signbridge_client *client = NULL, *arqsign = NULL;
    EXPECT_CODE(signbridge_client_new(config, &client), SIGNBRIDGE_RESULT_OK, "");
    EXPECT_CODE(signbridge_client_new(arqsign_config, &arqsign), SIGNBRIDGE_RESULT_OK, "");
    if (!client || !arqsign) {
        printf("%d passed, %d failed\n", passed, failed);
        return 1;
    }
    send_misuse(client);
    handle_misuse(client, long_handle);
    refresh_misuse(client);
    download_misuse(client);
    events_and_signer_misuse(client);
    signer_registration(client);
    validate_misuse(client);
    capability_misuse(client);
    call_and_changes_misuse(client, arqsign);
    journal_misuse(client);
    frees_accept_null();
    panic_is_caught(client);
    shared_between_threads(client);

    signbridge_client_free(client);
    signbridge_client_free(arqsign);
    free(long_handle);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
