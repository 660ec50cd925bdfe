"""The host-signer hook. No provider implemented yet asks for a host signature, so the test
hook ``_sign_for_test`` asks the client's signer the way a provider's ``send`` will: through
the core's SignerSlot, on a blocking thread of the runtime, while the caller waits without the
GIL."""

from __future__ import annotations

import threading
from typing import List, Tuple

import pytest
from support import Sandbox

import signbridge
from signbridge import CmsForm


def test_the_signer_gets_the_bytes_and_the_form(client: signbridge.Client) -> None:
    calls: List[Tuple[bytes, CmsForm, str]] = []

    def sign(data: bytes, form: CmsForm) -> bytes:
        calls.append((data, form, threading.current_thread().name))
        return b"\x30\x03" + data[:1]

    client.set_host_signer(sign)
    assert client._native._sign_for_test(b"hash", "detached") == b"\x30\x03h"
    assert client._native._sign_for_test(b"content", "attached") == b"\x30\x03c"
    assert [(d, f) for d, f, _ in calls] == [
        (b"hash", CmsForm.DETACHED),
        (b"content", CmsForm.ATTACHED),
    ]
    assert isinstance(calls[0][1], CmsForm)
    assert calls[0][2] != threading.current_thread().name, "runs on a signbridge thread"


def test_signer_failures_are_signing_errors(client: signbridge.Client) -> None:
    with pytest.raises(signbridge.SigningError, match="needs a host signer"):
        client._native._sign_for_test(b"x", "detached")

    def locked_card(data: bytes, form: CmsForm) -> bytes:
        raise PermissionError("PIN bloqueado")

    client.set_host_signer(locked_card)
    with pytest.raises(signbridge.SigningError) as failed:
        client._native._sign_for_test(b"x", "detached")
    assert failed.value.provider_message == "PermissionError: PIN bloqueado"
    assert failed.value.code == 700

    client.set_host_signer(lambda data, form: "not bytes")  # type: ignore[arg-type,return-value]
    with pytest.raises(signbridge.SigningError) as wrong:
        client._native._sign_for_test(b"x", "detached")
    assert wrong.value.provider_message == "the host signer returned str, not bytes"

    client.set_host_signer(None)
    with pytest.raises(signbridge.SigningError):
        client._native._sign_for_test(b"x", "detached")


def test_a_signer_must_be_callable(sandbox: Sandbox) -> None:
    with signbridge.Client(sandbox.config()) as c, pytest.raises(TypeError):
        c._native.set_host_signer(b"not callable")  # type: ignore[arg-type]
