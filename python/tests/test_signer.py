"""The host signer: a Python callable, called the way iDocs' ``send`` calls it (through the
core, on a signbridge thread, while the caller waits without the GIL), and the reference
``SoftwareSigner``."""

from __future__ import annotations

import threading
from typing import List, Tuple

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from support import (
    Sandbox,
    cms_sign,
    idocs_config,
    idocs_envelope,
    key_file_pem,
    throwaway_key,
)

import signbridge
from signbridge import CmsForm


def test_the_signer_gets_the_bytes_and_the_form(sandbox: Sandbox) -> None:
    key, certificate = throwaway_key("signer test")
    calls: List[Tuple[bytes, CmsForm, str]] = []

    def sign(data: bytes, form: CmsForm) -> bytes:
        calls.append((data, form, threading.current_thread().name))
        return cms_sign(key, certificate, data, form)

    with signbridge.Client(idocs_config(sandbox, cms_form="detached")) as client:
        client.set_host_signer(sign)
        client.send(idocs_envelope("SIGNER-1"))
    [(data, form, thread)] = calls
    assert data.startswith(b"PK\x03\x04"), "iDocs hands out a ZIP of the originals"
    assert form is CmsForm.DETACHED and isinstance(form, CmsForm)
    assert thread != threading.current_thread().name, "runs on a signbridge thread"


def test_signer_failures_are_signing_errors(sandbox: Sandbox) -> None:
    def send_fails(client: signbridge.Client) -> signbridge.SigningError:
        with pytest.raises(signbridge.SigningError) as failed:
            client.send(idocs_envelope("SIGNER-FAIL"))
        assert failed.value.code == 700
        return failed.value

    with signbridge.Client(idocs_config(sandbox)) as client:
        assert "needs a host signer" in str(send_fails(client))

        def locked_card(data: bytes, form: CmsForm) -> bytes:
            raise PermissionError("PIN bloqueado")

        client.set_host_signer(locked_card)
        assert send_fails(client).provider_message == "PermissionError: PIN bloqueado"

        client.set_host_signer(lambda data, form: "not bytes")  # type: ignore[arg-type,return-value]
        assert send_fails(client).provider_message == "the host signer returned str, not bytes"

        client.set_host_signer(None)
        assert "needs a host signer" in str(send_fails(client))
    assert sandbox.count("POST", "quick-sign/save") == 0


def test_a_signer_must_be_callable(sandbox: Sandbox) -> None:
    with signbridge.Client(sandbox.config()) as c, pytest.raises(TypeError):
        c._native.set_host_signer(b"not callable")  # type: ignore[arg-type]


def test_the_software_signer_loads_pem_and_pkcs12() -> None:
    key, certificate = throwaway_key("Программный подписант")
    der = certificate.public_bytes(serialization.Encoding.DER)
    both = key_file_pem(key, certificate)
    from_bytes = signbridge.SoftwareSigner.from_pem(both)
    assert from_bytes.certificate_der == der
    assert signbridge.SoftwareSigner.from_pem(both.decode(), both.decode()).certificate_der == der

    p12 = pkcs12.serialize_key_and_certificates(
        b"firma", key, certificate, None, serialization.BestAvailableEncryption(b"senha")
    )
    assert signbridge.SoftwareSigner.from_pkcs12(p12, "senha").certificate_der == der
    with pytest.raises(signbridge.SigningError) as wrong_password:
        signbridge.SoftwareSigner.from_pkcs12(p12, "errada")
    assert wrong_password.value.code == 700 and wrong_password.value.provider_message

    _, other_certificate = throwaway_key("someone else")
    with pytest.raises(signbridge.SigningError, match="could not be loaded"):
        signbridge.SoftwareSigner.from_pem(key_file_pem(key, other_certificate)[: len(both) // 2])
    mismatched = other_certificate.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(signbridge.SigningError):
        signbridge.SoftwareSigner.from_pem(mismatched, both)
    with pytest.raises(TypeError):
        signbridge.SoftwareSigner.from_pem(42)  # type: ignore[arg-type]


def test_the_software_signer_signs_by_itself() -> None:
    key, certificate = throwaway_key("signer test")
    signer = signbridge.SoftwareSigner.from_pem(key_file_pem(key, certificate))
    content = b"conteudo " * 100
    attached = signer.sign(content, "attached")
    detached = signer(content, CmsForm.DETACHED)
    assert attached[0] == 0x30 and detached[0] == 0x30, "DER SEQUENCEs"
    assert content in attached and content not in detached
    assert pkcs7.load_der_pkcs7_certificates(attached) == [certificate]
    with pytest.raises(ValueError):
        signer.sign(content, "embedded")
    assert "signer test" in repr(signer)
