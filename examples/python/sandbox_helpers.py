"""What the examples need from the local sandbox that a real provider does not offer: the URL
of a running sandbox, a way to make the parties sign (its control routes), and a contract PDF."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any, Dict

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


def sandbox_url() -> str:
    """The sandbox's base URL, from the first argument or $SIGNBRIDGE_SANDBOX_URL."""
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SIGNBRIDGE_SANDBOX_URL")
    if not url:
        sys.exit(
            "start the sandbox first (cargo run -p signbridge-cli -- sandbox --port 8080),\n"
            "then pass its URL: SIGNBRIDGE_SANDBOX_URL=http://127.0.0.1:8080 or an argument"
        )
    return url.rstrip("/")


def tae_config(url: str) -> Dict[str, Any]:
    """A TAE account on the sandbox. With a real account, keep the password out of the file:
    SIGNBRIDGE_TAE_PASSWORD sets settings.password."""
    return {
        "provider": "tae",
        "account": "example",
        "settings": {
            "auth_base": f"{url}/tae/identityintegration",
            "api_base": f"{url}/tae",
            "username": "svc@signbridge.test",
            "password": "sandbox-password",
        },
    }


def sign_in_sandbox(url: str, document_id: str, email: str) -> None:
    """What the party would do in TAE's web page: sign (a sandbox control route)."""
    request = urllib.request.Request(
        f"{url}/__sandbox/tae/documents/{document_id}/sign",
        data=json.dumps({"email": email}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


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
