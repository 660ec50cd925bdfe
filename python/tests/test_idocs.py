"""iDocs, where the host signs: the signer is a Python callable (here the `cryptography`
package making the CMS) or signbridge's SoftwareSigner, and what it returns reaches the
sandbox, which verifies it."""

from __future__ import annotations

from typing import List

import pytest
from support import (
    Sandbox,
    cms_sign,
    idocs_config,
    idocs_envelope,
    software_signer,
    throwaway_key,
)

import signbridge
from signbridge import CmsForm, DownloadKind, State


def sent_and_completed(
    sandbox: Sandbox, client: signbridge.Client, reference: str, form: str, subject: str
) -> None:
    """Sends, checks the one signature the sandbox stored, lets the counterparty sign and
    downloads the print form."""
    handle = client.send(idocs_envelope(reference))
    document = sandbox.call("GET", f"/__sandbox/idocs/documents/{handle.id}")
    assert document["signature_count"] == 1
    signature = document["signatures"][0]
    assert signature["form"] == form
    assert subject in signature["signer_subject"]
    assert client.status(handle).state is State.SENT

    sandbox.call("POST", f"/__sandbox/idocs/documents/{handle.id}/counterparty-sign", {})
    assert client.status(handle).state is State.COMPLETED
    print_form = client.download(handle, DownloadKind.SIGNED)
    assert isinstance(print_form, bytes) and print_form.startswith(b"%PDF")


@pytest.mark.parametrize("form", ["attached", "detached"])
def test_a_python_signer_sends_through_idocs(sandbox: Sandbox, form: str) -> None:
    key, certificate = throwaway_key("ТОО Отправитель (Python)")
    forms: List[CmsForm] = []

    def sign(data: bytes, form: CmsForm) -> bytes:
        forms.append(form)
        return cms_sign(key, certificate, data, form)

    with signbridge.Client(idocs_config(sandbox, cms_form=form)) as client:
        client.set_host_signer(sign)
        sent_and_completed(sandbox, client, f"PY-IDOCS-{form}", form, "ТОО Отправитель (Python)")
    assert forms == [CmsForm(form)]


@pytest.mark.parametrize("form", ["attached", "detached"])
def test_the_software_signer_sends_through_idocs(sandbox: Sandbox, form: str) -> None:
    key, certificate = throwaway_key("ТОО Отправитель (software)")
    with signbridge.Client(idocs_config(sandbox, cms_form=form)) as client:
        client.set_host_signer(software_signer(key, certificate))
        sent_and_completed(sandbox, client, f"SW-IDOCS-{form}", form, "ТОО Отправитель (software)")


def test_a_failing_python_signer_is_a_signing_error(sandbox: Sandbox) -> None:
    def refuse(data: bytes, form: CmsForm) -> bytes:
        raise RuntimeError("PIN заблокирован")

    with signbridge.Client(idocs_config(sandbox)) as client:
        client.set_host_signer(refuse)
        with pytest.raises(signbridge.SigningError) as caught:
            client.send(idocs_envelope("PY-IDOCS-FAIL"))
    assert caught.value.code == 700
    assert "PIN заблокирован" in (caught.value.provider_message or "")
    assert caught.value.handle is not None, "the draft is reported"
    assert sandbox.count("POST", "quick-sign/save") == 0
