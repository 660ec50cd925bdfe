#!/usr/bin/env bash
# Every check of the C ABI, from a fresh Debian machine (as root, for the packages):
#   - installs what is missing (gcc, fpc, valgrind, libcurl and OpenSSL headers, the openssl CLI,
#     pkg-config; pinned cbindgen);
#   - regenerates the header and fails on any difference from include/signbridge.h;
#   - checks that include/signbridge.pas declares what the header does, and that the library
#     exports exactly the header's functions;
#   - builds and runs the C and Free Pascal examples (the whole TAE flow, and SBIS with Cyrillic
#     titles and names checked at the sandbox; the C one also ArqSign,
#     iDocs with its OpenSSL host signer, attached and detached, and with the library's
#     software signer, and SBIS with the same OpenSSL signer, all with a throw-away key) against
#     a sandbox it starts, and checks the text and the signatures the sandbox received;
#   - runs the C misuse suite under valgrind (with the test-panic build);
#   - sends through a journal file across a client restart (tests/c/journal.c);
#   - runs the C webhook intake test (receiver, ingest, acked events across a restart) under
#     valgrind, and the embedded listener's (HTTP intake, events, stop) too;
#   - checks that no copy of the password or the token outlives a freed client;
#   - checks that a C program with the default SIGPIPE disposition survives a server that hangs
#     up during a large upload, and a provider that answers HTML, garbage, 502, a huge
#     Content-Length, an endless body, a redirect to another origin or nothing (right result
#     codes, no file left, nothing sent to the other origin);
#   - installs under a temporary prefix and builds a program with pkg-config.
# Leaves no process and no file behind (the test-panic build stays in its target directory).
# Run from anywhere: ./scripts/test-ffi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Clients keep their journal in memory: the suite's sandboxes are fresh every run.
export SIGNBRIDGE_JOURNAL=${SIGNBRIDGE_JOURNAL:-:memory:}

started=$SECONDS
step() { printf '\n== ffi: %s\n' "$*"; }
fail() {
    echo "test-ffi: $*" >&2
    exit 1
}

target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
lib_dir="$target_dir/debug"
# The variant with `signbridge_test_panic` builds apart, so the shipped library never has it.
panic_target_dir="$target_dir/ffi-test-panic"
work=$(mktemp -d)
sandbox_pid=
hangup_pid=
hostile_pid=
cleanup() {
    for pid in $sandbox_pid $hangup_pid $hostile_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "system packages"
missing=()
for package in gcc libc6-dev binutils fpc valgrind libcurl4-openssl-dev libssl-dev openssl pkg-config; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || fail "missing packages ${missing[*]}: install them or run as root"
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
gcc --version | head -1
fpc -iV | sed 's/^/fpc /'

step "header"
ffi/generate-header.sh "$work/signbridge.h"
if ! cmp -s include/signbridge.h "$work/signbridge.h"; then
    diff -u include/signbridge.h "$work/signbridge.h" || true
    fail "include/signbridge.h differs from what ffi/src generates: run ffi/generate-header.sh"
fi
echo "include/signbridge.h is up to date"

step "pascal unit"
python3 scripts/check-pascal-unit.py include/signbridge.h include/signbridge.pas

step "build"
cargo build --locked --quiet -p signbridge-ffi -p signbridge-cli
CARGO_TARGET_DIR="$panic_target_dir" cargo build --locked --quiet -p signbridge-ffi --features test-panic
header_functions=$(grep -oE '\bsignbridge_[a-z0-9_]+\(' include/signbridge.h | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$lib_dir/libsignbridge.so" | awk '$3 ~ /^signbridge_/ {print $3}' | sort -u)
if [[ $header_functions != "$exported" ]]; then
    diff <(echo "$header_functions") <(echo "$exported") || true
    fail "the library's exports (right) differ from the header's functions (left)"
fi
echo "libsignbridge.so exports the header's $(wc -l <<<"$exported") functions and nothing else"

step "sandbox"
"$lib_dir/signbridge" sandbox --port 0 >"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!
for _ in $(seq 100); do
    grep -qs '^SIGNBRIDGE_SANDBOX_URL=' "$work/sandbox.out" && break
    kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.err" >&2; fail "the sandbox exited"; }
    sleep 0.1
done
url=$(sed -n 's/^SIGNBRIDGE_SANDBOX_URL=//p' "$work/sandbox.out")
[[ -n $url ]] || fail "the sandbox printed no URL"
echo "sandbox at $url"

clear_requests() {
    python3 -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/__sandbox/requests", method="DELETE"))' "$url"
}

# What the sandbox received must be the exact Portuguese text, not a double-encoded one (the
# Free Pascal code-page pitfall) nor one with question marks.
check_received() {
    python3 - "$url" "$1" "$2" <<'PY'
import json, sys, urllib.request

url, host, provider = sys.argv[1:]
log = json.load(urllib.request.urlopen(url + "/__sandbox/requests"))
bodies = [r["body"] for r in log if r["method"] == "POST" and isinstance(r["body"], dict)]
if provider == "tae":
    titles = [p.get("value") for b in bodies for p in b.get("multipart", []) if p["name"] == "NomeEnvelope"]
    names = [d["nomeCompleto"] for b in bodies for d in b.get("destinatarios", [])]
else:
    titles = [b["nomeProcesso"] for b in bodies if "nomeProcesso" in b]
    names = [d["nome"] for b in bodies for d in b.get("destinatarios", [])]
title, name = "Contrato de prestação de serviços", "João Araújo"
if titles != [title]:
    sys.exit(f"{host} ({provider}): the sandbox received the title {titles!r}, expected [{title!r}]")
if name not in names:
    sys.exit(f"{host} ({provider}): the sandbox received the names {names!r}, expected {name!r} among them")
print(f"{host} ({provider}): the sandbox received the title {titles[0]!r} and names {names!r}")
PY
}

# What the sandbox kept of an iDocs document the C example sent: the exact title, exactly one
# signature from the sender (the host's: a real CMS of the expected form, which the sandbox
# verified over the content it handed out, made with the throw-away certificate), and the
# counterparty's.
check_idocs() {
    python3 - "$url" "$1" "$2" "$3" <<'PY'
import json, sys, urllib.request

url, document_id, form, cn = sys.argv[1:]
def get(path):
    return json.load(urllib.request.urlopen(url + path))

if not get("/__sandbox/idocs/config")["verify_signatures"]:
    sys.exit("the iDocs sandbox does not verify signatures: the check below would prove little")
document = get(f"/__sandbox/idocs/documents/{document_id}")
where = f"C example (idocs, {form}), document {document_id}"
title = "Договор поставки № 17 / Жеткізу шарты № 17"
if document["name"] != title:
    sys.exit(f"{where}: the sandbox received the title {document['name']!r}, expected {title!r}")
signatures = document["signatures"]
host = [s for s in signatures if s["side"] == "outbox"]
counterparty = [s for s in signatures if s["side"] == "inbox"]
if document["signature_count"] != 2 or len(host) != 1 or len(counterparty) != 1:
    sys.exit(f"{where}: expected one signature by the host and one by the counterparty, got {signatures!r}")
signature = host[0]
if signature["simulated"] or signature["form"] != form:
    sys.exit(f"{where}: the host's signature is {signature!r}, expected a {form} CMS")
if cn not in (signature["signer_subject"] or ""):
    sys.exit(f"{where}: signed by {signature['signer_subject']!r}, expected {cn!r} in the subject")
if document["stage"] != "finished":
    sys.exit(f"{where}: stage {document['stage']!r}, expected 'finished'")
print(f"{where}: one {form} CMS signature by {signature['signer_subject']!r}, "
      f"then the counterparty's; title {document['name']!r}")
PY
}

# What the SBIS sandbox kept of a document an example sent: the exact Cyrillic title (as
# Примечание) and counterparty name, the host's detached CMS (verified by the sandbox over the
# bytes it handed out) made with the throw-away certificate, the counterparty's, state "7".
# check_sbis HOST DOCUMENT_ID SIGNER_CN TITLE NAME
check_sbis() {
    python3 - "$url" "$@" <<'PY'
import json, sys, urllib.request

url, host, document_id, cn, title, name = sys.argv[1:]
def get(path):
    return json.load(urllib.request.urlopen(url + path))

if not get("/__sandbox/sbis/config")["verify_signatures"]:
    sys.exit("the SBIS sandbox does not verify signatures: the check below would prove little")
document = get(f"/__sandbox/sbis/documents/{document_id}")
where = f"{host} (sbis), document {document_id}"
if document["Примечание"] != title:
    sys.exit(f"{where}: the sandbox received the title {document['Примечание']!r}, expected {title!r}")
if document["Контрагент"]["СвЮЛ"]["Название"] != name:
    sys.exit(f"{where}: the counterparty is {document['Контрагент']!r}, expected {name!r}")
signatures = [s for a in document["Вложение"] for s in a["Подпись"]]
ours = [s for s in signatures if s["Направление"] == "Исходящий"]
theirs = [s for s in signatures if s["Направление"] == "Входящий"]
if len(ours) != 1 or len(theirs) != 1:
    sys.exit(f"{where}: expected one signature by the host and one by the counterparty, got {signatures!r}")
if cn not in ours[0].get("Сертификат", {}).get("ФИО", ""):
    sys.exit(f"{where}: signed by {ours[0]!r}, expected {cn!r} in the subject")
if document["Состояние"]["Код"] != "7":
    sys.exit(f"{where}: state {document['Состояние']!r}, expected code 7")
print(f"{where}: the host's CMS by {ours[0]['Сертификат']['ФИО']!r}, then the counterparty's; "
      f"title {title!r}")
PY
}

step "C example"
gcc -Wall -Wextra -Werror -Iinclude examples/c/signing_flow.c -o "$work/signing_flow_c" \
    -L"$lib_dir" -lsignbridge -lcurl -lcrypto -Wl,-rpath,"$lib_dir"
for provider in tae arqsign; do
    clear_requests
    "$work/signing_flow_c" "$provider" "$url" "$work"
    check_received "C example" "$provider"
done
# iDocs: the host signs, with OpenSSL in C. A throw-away key and certificate, made here and
# removed with $work; the sandbox checks the signature, not the certificate.
signer_cn="C host signer"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -utf8 \
    -subj "/CN=$signer_cn/O=ТОО Отправитель" \
    -keyout "$work/host-key.pem" -out "$work/host-cert.pem" 2>"$work/openssl.log" || {
    cat "$work/openssl.log" >&2
    fail "openssl req failed"
}
for form in attached detached; do
    # The form is the account setting cms_form, here from the environment as any setting can be.
    SIGNBRIDGE_IDOCS_CMS_FORM=$form "$work/signing_flow_c" idocs "$url" "$work" \
        "$work/host-key.pem" "$work/host-cert.pem" | tee "$work/idocs-$form.out"
    document_id=$(sed -n 's/^sent .* as idocs document \([^ ]*\)$/\1/p' "$work/idocs-$form.out")
    [[ -n $document_id ]] || fail "the C example (idocs, $form) printed no document id"
    check_idocs "$document_id" "$form" "$signer_cn"
done
# The same key handed to the library's software signer (signbridge_set_software_signer_pem).
SIGNBRIDGE_EXAMPLE_SIGNER=software "$work/signing_flow_c" idocs "$url" "$work" \
    "$work/host-key.pem" "$work/host-cert.pem" | tee "$work/idocs-software.out"
grep -q "^host signer: signbridge's software signer" "$work/idocs-software.out" ||
    fail "the C example did not use the software signer"
document_id=$(sed -n 's/^sent .* as idocs document \([^ ]*\)$/\1/p' "$work/idocs-software.out")
[[ -n $document_id ]] || fail "the C example (idocs, software signer) printed no document id"
check_idocs "$document_id" attached "$signer_cn"

# SBIS: the same OpenSSL callback signs each file SBIS prepared (detached CMS).
"$work/signing_flow_c" sbis "$url" "$work" "$work/host-key.pem" "$work/host-cert.pem" |
    tee "$work/sbis.out"
document_id=$(sed -n 's/^sent .* as sbis document \([^ ]*\)$/\1/p' "$work/sbis.out")
[[ -n $document_id ]] || fail "the C example (sbis) printed no document id"
check_sbis "C example" "$document_id" "$signer_cn" "Договор поставки № 17 «Премьер»" "СК Премьер, ОАО"

step "Free Pascal example"
mkdir "$work/fpc"
# -Sew: warnings stop the build, as -Werror does for gcc.
fpc -Sew -vw -l- -Fuinclude -Fl"$lib_dir" -FU"$work/fpc" -o"$work/tae_flow_pas" \
    "-k-rpath=$lib_dir" examples/pascal/tae_flow.pas >"$work/fpc.log" || {
    cat "$work/fpc.log" >&2
    fail "fpc failed"
}
clear_requests
SIGNBRIDGE_TAE_PASSWORD=sandbox-password "$work/tae_flow_pas" "$url" "$work"
check_received "Pascal example" tae
# SBIS from Pascal: Cyrillic title and counterparty name, signed by the library's software
# signer with the same throw-away key.
fpc -Sew -vw -l- -Fuinclude -Fl"$lib_dir" -FU"$work/fpc" -o"$work/sbis_flow_pas" \
    "-k-rpath=$lib_dir" examples/pascal/sbis_flow.pas >"$work/fpc-sbis.log" || {
    cat "$work/fpc-sbis.log" >&2
    fail "fpc failed on the SBIS example"
}
SIGNBRIDGE_SBIS_PASSWORD=sandbox-secret "$work/sbis_flow_pas" "$url" "$work" \
    "$work/host-key.pem" "$work/host-cert.pem" | tee "$work/sbis-pascal.out"
document_id=$(sed -n 's/^sent .* as sbis document \([^ ]*\)$/\1/p' "$work/sbis-pascal.out")
[[ -n $document_id ]] || fail "the Pascal example (sbis) printed no document id"
check_sbis "Pascal example" "$document_id" "$signer_cn" \
    "Договор поставки № 17 «Премьер» (Паскаль)" "ОАО «СК Премьер» — отдел ЭДО"

step "misuse suite (valgrind)"
gcc -Wall -Wextra -Werror -Iinclude tests/c/misuse.c -o "$work/misuse" -pthread \
    -L"$panic_target_dir/debug" -lsignbridge -Wl,-rpath,"$panic_target_dir/debug"
valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite "$work/misuse" "$url"

step "journal file (exactly once across a restart)"
gcc -Wall -Wextra -Werror -Iinclude tests/c/journal.c -o "$work/journal" \
    -L"$lib_dir" -lsignbridge -Wl,-rpath,"$lib_dir"
# The answer of TAE's publish is lost once, after the publish committed.
python3 -c 'import json, sys, urllib.request
fault = {"path": "/tae/signintegration/v2/Publicacoes", "reset": "after", "times": 1}
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/__sandbox/faults",
    data=json.dumps(fault).encode(), headers={"Content-Type": "application/json"}))' "$url"
# SIGNBRIDGE_JOURNAL wins over the configuration's journal.path: this step names the file.
SIGNBRIDGE_JOURNAL="$work/journal.sqlite3" "$work/journal" "$url" "$work/journal.sqlite3" ||
    fail "the journal file did not keep a send exactly once"

step "webhooks (valgrind)"
gcc -Wall -Wextra -Werror -Iinclude tests/c/webhooks.c -o "$work/webhooks" \
    -L"$lib_dir" -lsignbridge -Wl,-rpath,"$lib_dir"
valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite "$work/webhooks" "$work"

step "listener (valgrind)"
gcc -Wall -Wextra -Werror -Iinclude tests/c/listener.c -o "$work/listener" \
    -L"$lib_dir" -lsignbridge -Wl,-rpath,"$lib_dir"
valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite "$work/listener" "$work"

step "secrets wiped"
# The password and the token must be gone from memory once the client is freed.
gcc -Wall -Wextra -Werror -Iinclude tests/c/secrets.c -o "$work/secrets" \
    -L"$lib_dir" -lsignbridge -Wl,-rpath,"$lib_dir"
printf 'sandbox-password' | "$work/secrets" "$url" || fail "a secret outlived its client"

step "SIGPIPE"
# A server that reads each request's head and at most 256 KiB of its body, then closes the
# connection with the rest unread, while the client is still writing.
python3 - >"$work/hangup.out" <<'PY' &
import socket, threading

listener = socket.create_server(("127.0.0.1", 0))
print(f"HANGUP_URL=http://127.0.0.1:{listener.getsockname()[1]}", flush=True)

def hang_up(conn):
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk or len(data) > 65536:
                return
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        received = len(body)
        while received < 256 * 1024:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += len(chunk)
        request_line = head.split(b"\r\n", 1)[0].decode()
        print(f"hung up on {request_line} after {received} body bytes", flush=True)

while True:
    conn, _ = listener.accept()
    threading.Thread(target=hang_up, args=(conn,), daemon=True).start()
PY
hangup_pid=$!
for _ in $(seq 100); do
    grep -qs '^HANGUP_URL=' "$work/hangup.out" && break
    kill -0 "$hangup_pid" 2>/dev/null || fail "the hang-up server exited"
    sleep 0.1
done
hangup_url=$(sed -n 's/^HANGUP_URL=//p' "$work/hangup.out")
[[ -n $hangup_url ]] || fail "the hang-up server printed no URL"
gcc -Wall -Wextra -Werror -Iinclude tests/c/sigpipe.c -o "$work/sigpipe" -pthread \
    -L"$lib_dir" -lsignbridge -Wl,-rpath,"$lib_dir"
# The default disposition, whatever this script inherited: the one that kills a host.
status=0
env --default-signal=PIPE "$work/sigpipe" "$hangup_url" || status=$?
if ((status > 128)); then
    fail "the SIGPIPE test was killed by signal $((status - 128)) (13 is SIGPIPE)"
fi
((status == 0)) || fail "the SIGPIPE test failed (exit status $status)"
cat "$work/hangup.out"
uploads=$(grep -c '^hung up on POST /documents/v1/envelopes/upload ' "$work/hangup.out" || true)
((uploads >= 2)) || fail "the hang-up server saw $uploads uploads, expected one from each thread"

step "hostile provider"
# Misbehaves by the document id in the path (tests/c/hostile.c lists the cases); a second
# port is the other origin its redirect points at, which must receive nothing.
python3 - >"$work/hostile.out" <<'PY' &
import re, socket, threading, time

def serve(listener, handle):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()

def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()

other = socket.create_server(("127.0.0.1", 0))
other_url = f"http://127.0.0.1:{other.getsockname()[1]}"

def other_origin(conn):
    with conn:
        line = read_head(conn)
        print(f"OTHER ORIGIN RECEIVED {line}", flush=True)

def reply(conn, status, body, extra=b""):
    conn.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n%s\r\n"
                 % (status, len(body), extra) + body)

def hostile(conn):
    with conn:
        line = read_head(conn)
        found = re.search(r"/publicacoes/(\d+)", line or "")
        case = found.group(1) if found else "0"
        print(f"case {case}: {line}", flush=True)
        try:
            if case == "1":
                reply(conn, b"200 OK", b"<html><body>Entrar</body></html>")
            elif case == "2":
                reply(conn, b"200 OK", b"\x00\xff{{ not json")
            elif case == "3":
                reply(conn, b"502 Bad Gateway", b"<html>502 Bad Gateway</html>")
            elif case == "4":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 50000000000\r\n\r\n{\"data\":")
                time.sleep(5)
            elif case == "5":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                for _ in range(200):
                    conn.sendall(b"1\r\n \r\n")
                    time.sleep(0.05)
            elif case == "6":
                path = line.split(" ")[1]
                reply(conn, b"307 Temporary Redirect", b"",
                      f"Location: {other_url}{path}\r\n".encode())
            # 7 and anything else: hang up without an answer.
        except OSError:
            pass

listener = socket.create_server(("127.0.0.1", 0))
print(f"HOSTILE_URL=http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
threading.Thread(target=serve, args=(other, other_origin), daemon=True).start()
serve(listener, hostile)
PY
hostile_pid=$!
for _ in $(seq 100); do
    grep -qs '^HOSTILE_URL=' "$work/hostile.out" && break
    kill -0 "$hostile_pid" 2>/dev/null || fail "the hostile server exited"
    sleep 0.1
done
hostile_url=$(sed -n 's/^HOSTILE_URL=//p' "$work/hostile.out")
[[ -n $hostile_url ]] || fail "the hostile server printed no URL"
gcc -Wall -Wextra -Werror -Iinclude tests/c/hostile.c -o "$work/hostile" \
    -L"$lib_dir" -lsignbridge -Wl,-rpath,"$lib_dir"
mkdir "$work/hostile-downloads"
status=0
env --default-signal=PIPE "$work/hostile" "$hostile_url" "$work/hostile-downloads" || status=$?
if ((status > 128)); then
    fail "the hostile test was killed by signal $((status - 128))"
fi
((status == 0)) || fail "the hostile test failed (exit status $status)"
if grep '^OTHER ORIGIN RECEIVED' "$work/hostile.out"; then
    fail "a request followed the redirect to another origin"
fi

step "install"
CARGO_TARGET_DIR="$target_dir" scripts/install.sh --prefix "$work/prefix" --debug
cat >"$work/tiny.c" <<'EOF'
#include <signbridge.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    signbridge_client *client = NULL;
    signbridge_result rc = signbridge_client_new("{\"provider\":\"nope\"}", &client);
    if (strcmp(signbridge_version(), SIGNBRIDGE_VERSION_STRING) != 0 ||
        rc != SIGNBRIDGE_RESULT_CONFIG || client != NULL) {
        fprintf(stderr, "unexpected: version %s, result %d\n", signbridge_version(), (int)rc);
        return 1;
    }
    printf("linked signbridge %s; an unknown provider is code %d\n", signbridge_version(), (int)rc);
    return 0;
}
EOF
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046 # pkg-config output is meant to be split into flags
gcc -Wall -Wextra -Werror "$work/tiny.c" -o "$work/tiny" $(pkg-config --cflags --libs signbridge)
LD_LIBRARY_PATH="$work/prefix/lib" "$work/tiny"
# Static: the archive itself, plus the system libraries the .pc lists as private.
private_libs=$(pkg-config --static --libs-only-l signbridge | sed 's/-lsignbridge//')
# shellcheck disable=SC2046,SC2086
gcc "$work/tiny.c" -o "$work/tiny-static" $(pkg-config --cflags signbridge) \
    "$(pkg-config --variable=libdir signbridge)/libsignbridge.a" $private_libs
"$work/tiny-static"

step "done in $((SECONDS - started)) s"
