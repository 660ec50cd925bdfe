"""Helpers shared by the tests: the sandbox's control routes, a sample PDF, an envelope."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

import signbridge

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "python"))
# The examples' own helpers; the iDocs example's throw-away key and Python signer too.
from idocs_signing import cms_sign as cms_sign  # noqa: E402
from idocs_signing import key_file_pem as key_file_pem  # noqa: E402
from idocs_signing import software_signer as software_signer  # noqa: E402
from idocs_signing import throwaway_key as throwaway_key  # noqa: E402
from sandbox_helpers import IDOCS_COUNTERPARTY, contract_pdf  # noqa: E402
from sandbox_helpers import SBIS_COUNTERPARTY as SBIS_COUNTERPARTY  # noqa: E402
from sandbox_helpers import config as example_config  # noqa: E402

#: Retries and backoff short enough for tests; no rate limit.
FAST_TRANSPORT: Dict[str, Any] = {
    "backoff_initial_ms": 20,
    "backoff_max_ms": 200,
    "rate_limit_per_second": 0.0,
}

MARIA = "maria@cliente.example"
JOAO = "joao@empresa.example"


class Sandbox:
    """The control routes of a running sandbox, through plain urllib."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def sign(self, doc_id: str, email: str) -> None:
        self.call("POST", f"/__sandbox/tae/documents/{doc_id}/sign", {"email": email})

    def reject(self, doc_id: str, email: str, reason: str) -> None:
        body = {"email": email, "reason": reason}
        self.call("POST", f"/__sandbox/tae/documents/{doc_id}/reject", body)

    def requests(self) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self.call("GET", "/__sandbox/requests")
        return result

    def count(self, method: str, path_part: str) -> int:
        part = path_part.lower()
        return sum(
            1 for r in self.requests() if r["method"] == method and part in r["path"].lower()
        )

    def fault(self, **spec: Any) -> None:
        self.call("POST", "/__sandbox/faults", spec)

    def reset(self) -> None:
        self.call("DELETE", "/__sandbox/faults")
        self.call("DELETE", "/__sandbox/requests")

    def config(
        self, transport: Optional[Dict[str, Any]] = None, **settings: Any
    ) -> Dict[str, Any]:
        """A TAE client configuration for this sandbox; ``settings`` override the defaults."""
        base: Dict[str, Any] = {
            "auth_base": f"{self.url}/tae/identityintegration",
            "api_base": f"{self.url}/tae",
            "username": "svc@signbridge.test",
            "password": "sandbox-password",
        }
        base.update(settings)
        return {
            "provider": "tae",
            "account": "test",
            "settings": base,
            "transport": {**FAST_TRANSPORT, **(transport or {})},
        }


def sample_pdf(title: str, pages: int) -> bytes:
    """The examples' contract PDF: one builder for examples and tests."""
    return contract_pdf(title, pages)


def envelope(reference: str) -> signbridge.Envelope:
    """Two signers, one two-page contract; Portuguese text on purpose."""
    return signbridge.Envelope(
        reference=reference,
        title="Contrato de prestação de serviços",
        documents=[signbridge.Document.from_bytes("contrato.pdf", sample_pdf("Contrato", 2))],
        parties=[
            signbridge.Party(
                name="Maria da Conceição", email=MARIA, tax_id="111.444.777-35", order=1
            ),
            signbridge.Party(name="João Araújo", email=JOAO, tax_id="111.444.777-35", order=2),
        ],
        message=signbridge.Message(
            subject="Assinatura do contrato nº 123",
            body="Prezado(a), segue o documento para assinatura eletrônica.",
        ),
    )


def idocs_config(sandbox: Sandbox, **settings: str) -> Dict[str, Any]:
    """The sandbox's iDocs sender account; ``settings`` override the defaults."""
    config = example_config("idocs", sandbox.url)
    config["settings"].update(settings)
    config["transport"] = FAST_TRANSPORT
    return config


def idocs_envelope(reference: str) -> signbridge.Envelope:
    """One contract for the sandbox's iDocs counterparty."""
    return signbridge.Envelope(
        reference=reference,
        title="Договор поставки № 17",
        documents=[signbridge.Document.from_bytes("dogovor.pdf", sample_pdf("Dogovor", 1))],
        parties=[
            signbridge.Party(
                name=IDOCS_COUNTERPARTY["name"],
                email=IDOCS_COUNTERPARTY["email"],
                tax_id=IDOCS_COUNTERPARTY["tax_id"],
            )
        ],
    )


def sbis_config(sandbox: Sandbox, **settings: Optional[str]) -> Dict[str, Any]:
    """The sandbox's SBIS account; ``settings`` override the defaults."""
    config = example_config("sbis", sandbox.url)
    config["settings"].update(settings)
    config["transport"] = FAST_TRANSPORT
    return config
