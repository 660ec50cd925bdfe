"""iDocs, where the host signs: the signer is a Python callable (here the `cryptography`
package making the CMS), and what it returns reaches the sandbox, which verifies it."""

from __future__ import annotations

import datetime
from typing import Any, Callable, Dict, List, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from support import Sandbox, sample_pdf

import signbridge
from signbridge import CmsForm, Document, DownloadKind, Envelope, Party, State

# The sandbox's seeded iDocs accounts (signbridge_sandbox::idocs).
TOKEN = (
    "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZDQkMtSFM1MTIiLCJ0eXAiOiJhdCtqd3QifQ"
    ".c2lnbmJyaWRnZS1zYW5kYm94LWNvbXBhbnktYQ.aWRvY3Mtc2FuZGJveA"
    ".QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE.c2VuZGVy"
)
SENDER_EMPLOYEE = "7e2d8f3b-4c5a-4b7f-8d9e-2b3c4d5e6f01"
COUNTERPARTY_BIN = "123456789012"


def config(sandbox: Sandbox, **settings: str) -> Dict[str, Any]:
    base = {"base_url": f"{sandbox.url}/idocs", "token": TOKEN, "employee_id": SENDER_EMPLOYEE}
    return {"provider": "idocs", "account": "test", "settings": {**base, **settings}}


def envelope(reference: str) -> Envelope:
    return Envelope(
        reference=reference,
        title="Договор поставки № 17",
        documents=[Document.from_bytes("dogovor.pdf", sample_pdf("Dogovor", 1))],
        parties=[Party(name="ТОО Контрагент", email="buh@kontragent.kz", tax_id=COUNTERPARTY_BIN)],
    )


def key_and_certificate() -> Tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ТОО Отправитель (Python)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def python_signer(forms: List[CmsForm]) -> Callable[[bytes, CmsForm], bytes]:
    key, certificate = key_and_certificate()

    def sign(data: bytes, form: CmsForm) -> bytes:
        forms.append(form)
        options = [pkcs7.PKCS7Options.Binary]
        if form is CmsForm.DETACHED:
            options.append(pkcs7.PKCS7Options.DetachedSignature)
        builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(certificate, key, hashes.SHA256())
        return builder.sign(serialization.Encoding.DER, options)

    return sign


@pytest.mark.parametrize("form", ["attached", "detached"])
def test_a_python_signer_sends_through_idocs(sandbox: Sandbox, form: str) -> None:
    forms: List[CmsForm] = []
    with signbridge.Client(config(sandbox, cms_form=form)) as client:
        client.set_host_signer(python_signer(forms))
        handle = client.send(envelope(f"PY-IDOCS-{form}"))
        assert forms == [CmsForm(form)]
        document = sandbox.call("GET", f"/__sandbox/idocs/documents/{handle.id}")
        assert document["signature_count"] == 1
        signature = document["signatures"][0]
        assert signature["form"] == form
        assert "ТОО Отправитель (Python)" in signature["signer_subject"]
        assert client.status(handle).state is State.SENT

        sandbox.call("POST", f"/__sandbox/idocs/documents/{handle.id}/counterparty-sign", {})
        assert client.status(handle).state is State.COMPLETED
        print_form = client.download(handle, DownloadKind.SIGNED)
        assert isinstance(print_form, bytes) and print_form.startswith(b"%PDF")


def test_a_failing_python_signer_is_a_signing_error(sandbox: Sandbox) -> None:
    def refuse(data: bytes, form: CmsForm) -> bytes:
        raise RuntimeError("PIN заблокирован")

    with signbridge.Client(config(sandbox)) as client:
        client.set_host_signer(refuse)
        with pytest.raises(signbridge.SigningError) as caught:
            client.send(envelope("PY-IDOCS-FAIL"))
    assert caught.value.code == 700
    assert "PIN заблокирован" in (caught.value.provider_message or "")
    assert caught.value.handle is not None, "the draft is reported"
    assert sandbox.count("POST", "quick-sign/save") == 0
