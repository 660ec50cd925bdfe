"""What the examples need from the local sandbox that a real provider does not offer: the URL
of a running sandbox, a way to make the parties sign (its control routes), and a contract PDF."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any, Dict, Tuple

import signbridge

SIGNERS = [
    {
        "name": "Maria da Conceição Silva",
        "email": "maria.silva@cliente.example",
        "tax_id": "111.444.777-35",
    },
    {
        "name": "João Araújo Souza",
        "email": "joao.souza@empresa.example",
        "tax_id": "11.222.333/0001-81",
    },
]


PROVIDERS = ("tae", "arqsign")


def arguments() -> Tuple[str, str]:
    """The provider (``tae`` or ``arqsign``) and the sandbox's base URL, from the arguments
    (the URL also from $SIGNBRIDGE_SANDBOX_URL)."""
    args = sys.argv[1:]
    provider = args.pop(0) if args and args[0] in PROVIDERS else ""
    url = args[0] if args else os.environ.get("SIGNBRIDGE_SANDBOX_URL", "")
    if not provider or not url:
        sys.exit(
            "usage: signing_flow.py tae|arqsign SANDBOX_URL\n"
            "start the sandbox first: cargo run -p signbridge-cli -- sandbox --port 8080"
        )
    return provider, url.rstrip("/")


#: The iDocs counterparty the sandbox knows: a company, by its BIN.
IDOCS_COUNTERPARTY = {
    "name": "ТОО «Қазақ Контрагент»",
    "email": "buh@kontragent.example.kz",
    "tax_id": "123456789012",
}


def config(provider: str, url: str) -> Dict[str, Any]:
    """An account of `provider` on the sandbox. With a real account keep the secrets out of
    the file: SIGNBRIDGE_TAE_PASSWORD, SIGNBRIDGE_ARQSIGN_APP_KEY, SIGNBRIDGE_IDOCS_TOKEN,
    SIGNBRIDGE_SBIS_PASSWORD, … set them."""
    if provider == "sbis":
        settings = {
            "auth_url": f"{url}/sbis/auth/service/",
            "service_url": f"{url}/sbis/service/?srv=1",
            "login": "sandbox",
            "password": "sandbox-secret",
            "our_inn": "7700000001",
            "our_kpp": "770001001",
        }
    elif provider == "idocs":
        settings = {
            "base_url": f"{url}/idocs",
            "token": (
                "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZDQkMtSFM1MTIiLCJ0eXAiOiJhdCtqd3QifQ"
                ".c2lnbmJyaWRnZS1zYW5kYm94LWNvbXBhbnktYQ.aWRvY3Mtc2FuZGJveA"
                ".QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE.c2VuZGVy"
            ),
            "employee_id": "7e2d8f3b-4c5a-4b7f-8d9e-2b3c4d5e6f01",
        }
    elif provider == "tae":
        settings = {
            "auth_base": f"{url}/tae/identityintegration",
            "api_base": f"{url}/tae",
            "username": "svc@signbridge.test",
            "password": "sandbox-password",
        }
    else:
        settings = {
            "base_url": f"{url}/arqsign",
            "app_key": "a7c3e9f1b5d24680ace13579bdf02468",
            "subscription_key": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "responsible_id": "6b1f0d8e-2c3a-4e5f-8a9b-0c1d2e3f4a51",
            "folder_id": "9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e62",
        }
    return {"provider": provider, "account": "example", "settings": settings}


def sign_in_sandbox(provider: str, url: str, document_id: str, email: str) -> None:
    """What the party would do on the provider's web page: sign (a sandbox control route)."""
    route = "tae/documents" if provider == "tae" else "arqsign/processes"
    control(url, f"{route}/{document_id}/sign", {"email": email})


def control(url: str, route: str, body: Dict[str, Any]) -> Any:
    """POSTs `body` to a control route of the sandbox; returns its JSON answer."""
    request = urllib.request.Request(
        f"{url}/__sandbox/{route}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


#: The SBIS counterparty the sandbox knows: a company, by its ИНН/КПП.
SBIS_COUNTERPARTY = {
    "name": "СК Премьер, ОАО",
    "email": "edo@premier.example",
    "tax_id": "7601000985/760601001",
}


def sbis_counterparty_approves_in_sandbox(url: str, document_id: str) -> None:
    """What the SBIS counterparty would do in its own SBIS account: approve the document."""
    control(url, f"sbis/documents/{document_id}/counterparty-sign", {})


def counterparty_signs_in_sandbox(url: str, document_id: str) -> None:
    """What the iDocs counterparty would do in its own iDocs account: sign the document."""
    control(url, f"idocs/documents/{document_id}/counterparty-sign", {})


def sample_envelope(number: str) -> signbridge.Envelope:
    """Contract `number` for the two SIGNERS, who sign in order."""
    return signbridge.Envelope(
        reference=f"RM-{number}",
        title=f"Contrato de prestação de serviços nº {number}",
        documents=[
            signbridge.Document.from_bytes(f"contrato-{number}.pdf", contract_pdf(f"Contrato {number}"))
        ],
        parties=[
            signbridge.Party(name=s["name"], email=s["email"], tax_id=s["tax_id"], order=n)
            for n, s in enumerate(SIGNERS, 1)
        ],
        message=signbridge.Message(subject=f"Contrato {number}", body="Segue o contrato para assinatura."),
        sequential=True,
    )


def contract_pdf(title: str, pages: int = 2) -> bytes:
    """A small PDF of text pages, standing in for the contract an ERP would produce."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages)), pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        label = b"%s - %d/%d" % (title.encode("ascii"), i + 1, pages)
        text = b"BT /F1 16 Tf 72 760 Td (%s) Tj ET" % label
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
