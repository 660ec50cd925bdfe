"""SBIS from Python: the host signs every prepared file with a Python callable, the
counterparty approves, the session ends mid-flow and one new login follows, and SBIS's own
words (JSON-RPC `error.message`) reach the exception."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest
from support import SBIS_COUNTERPARTY, Sandbox, cms_sign, sample_pdf, sbis_config, throwaway_key

import signbridge
from signbridge import CmsForm, DownloadKind, State


def envelope(reference: str) -> signbridge.Envelope:
    return signbridge.Envelope(
        reference=reference,
        title="Договор поставки № 17 «Премьер»",
        documents=[signbridge.Document.from_bytes("dogovor.pdf", sample_pdf("Dogovor", 1))],
        parties=[
            signbridge.Party(
                name=SBIS_COUNTERPARTY["name"],
                email=SBIS_COUNTERPARTY["email"],
                tax_id=SBIS_COUNTERPARTY["tax_id"],
            )
        ],
    )


def methods(sandbox: Sandbox) -> List[str]:
    """The JSON-RPC methods the sandbox was called with, in order."""
    bodies = [r["body"] for r in sandbox.requests() if isinstance(r["body"], dict)]
    return [str(b["method"]) for b in bodies if "method" in b]


def test_python_signer_then_approval(sandbox: Sandbox) -> None:
    key, certificate = throwaway_key("ООО «Наша» (pytest)")
    forms: List[CmsForm] = []

    def sign(data: bytes, form: CmsForm) -> bytes:
        forms.append(form)
        return cms_sign(key, certificate, data, form)

    with signbridge.Client(sbis_config(sandbox)) as client:
        client.set_host_signer(sign)
        handle = client.send(envelope("PY-SBIS-1"))
        assert forms == [CmsForm.DETACHED]
        assert client.status(handle).state is State.SENT
        sandbox.call("POST", f"/__sandbox/sbis/documents/{handle.id}/counterparty-sign", {})
        status = client.status(handle)
        assert status.state is State.COMPLETED
        assert status.provider_status.startswith("7 ")
        original = client.download(handle, DownloadKind.ORIGINAL)
        assert original == sample_pdf("Dogovor", 1)
    document = sandbox.call("GET", f"/__sandbox/sbis/documents/{handle.id}")
    ours = document["Вложение"][0]["Подпись"][0]
    assert "ООО «Наша» (pytest)" in ours["Сертификат"]["ФИО"]


def test_session_ends_mid_flow(sandbox: Sandbox) -> None:
    key, certificate = throwaway_key()
    with signbridge.Client(sbis_config(sandbox)) as client:
        client.set_host_signer(lambda data, form: cms_sign(key, certificate, data, form))
        handle = client.send(envelope("PY-SBIS-2"))
        sandbox.call("POST", "/__sandbox/sbis/sessions/expire", {})
        sandbox.call("DELETE", "/__sandbox/requests")
        assert client.status(handle).state is State.SENT
    assert methods(sandbox) == [
        "СБИС.ПрочитатьДокумент",
        "СБИС.Аутентифицировать",
        "СБИС.ПрочитатьДокумент",
    ]


def test_refusals_keep_sbis_words(sandbox: Sandbox) -> None:
    with signbridge.Client(sbis_config(sandbox, password="not-the-password")) as client:
        with pytest.raises(signbridge.AuthError) as refused:
            client.call("read", {"id": "00000000-0000-4000-8000-000000000000"})
    assert refused.value.provider_message, "SBIS's message is kept"
    assert "not-the-password" not in str(refused.value)
    with signbridge.Client(sbis_config(sandbox)) as client:
        with pytest.raises(signbridge.NotFound) as missing:
            client.call("read", {"id": "00000000-0000-4000-8000-000000000000"})
    assert "не найден" in (missing.value.provider_message or "")


def test_certificate_login_signed_by_python(sandbox: Sandbox) -> None:
    """settings.certificate: the sandbox's challenge is signed by the host's Python signer."""
    from cryptography.hazmat.primitives.serialization import Encoding

    key, certificate = throwaway_key("ООО «Наша» (сертификат)")
    pem = certificate.public_bytes(Encoding.PEM).decode()
    config = sbis_config(sandbox, login=None, password=None, certificate=pem)
    signed: List[bytes] = []

    def sign(data: bytes, form: CmsForm) -> bytes:
        signed.append(data)
        return cms_sign(key, certificate, data, form)

    sandbox.call("DELETE", "/__sandbox/requests")
    with signbridge.Client(config) as client:
        client.set_host_signer(sign)
        handle = client.send(envelope("PY-SBIS-CERT"))
        assert client.status(handle).state is State.SENT
        logins = [w for w in client.budget() if w.scope == "logins"]
        assert [(w.period, w.limit, w.used) for w in logins] == [("minute", 300, 2)]
    by_certificate = "СБИС.АутентифицироватьПоСертификату"
    assert methods(sandbox)[:2] == [by_certificate, by_certificate]
    assert methods(sandbox).count(by_certificate) == 2
    assert signed[0].startswith(b"sbis-sandbox-challenge:"), "the challenge is signed first"


def test_access_token_and_its_revocation(sandbox: Sandbox) -> None:
    """settings.access_token goes as X-SBISAccessToken; revoked, the call fails as auth."""
    import urllib.request

    def oauth(body: object) -> Dict[str, str]:
        request = urllib.request.Request(
            f"{sandbox.url}/sbis/oauth/service/",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            reply: Dict[str, str] = json.loads(answer.read())
            return reply

    service = {
        "app_client_id": "sandbox-app",
        "app_secret": "sandbox-app-secret",
        "secret_key": "sandbox-secret-key",
    }
    token = oauth(service)["token"]
    key, certificate = throwaway_key()
    config = sbis_config(sandbox, login=None, password=None, access_token=token)
    with signbridge.Client(config) as client:
        client.set_host_signer(lambda data, form: cms_sign(key, certificate, data, form))
        handle = client.send(envelope("PY-SBIS-TOKEN"))
        oauth({"event": "exit", "token": token})
        sandbox.call("DELETE", "/__sandbox/requests")
        with pytest.raises(signbridge.AuthError) as refused:
            client.status(handle)
    assert token not in str(refused.value)
    assert methods(sandbox) == ["СБИС.ПрочитатьДокумент"], "no login, no loop"


def test_session_refused_inside_http_200(sandbox: Sandbox) -> None:
    """A session refused in a JSON-RPC error body at HTTP 200: one re-login, one retry."""
    key, certificate = throwaway_key()
    with signbridge.Client(sbis_config(sandbox)) as client:
        client.set_host_signer(lambda data, form: cms_sign(key, certificate, data, form))
        handle = client.send(envelope("PY-SBIS-200"))
        sandbox.call("DELETE", "/__sandbox/requests")
        refusal = {"path": "/sbis/service/", "status": 200, "rpc_method": "СБИС.ПрочитатьДокумент"}
        sandbox.fault(**refusal)
        assert client.status(handle).state is State.SENT
        assert methods(sandbox) == [
            "СБИС.ПрочитатьДокумент",
            "СБИС.Аутентифицировать",
            "СБИС.ПрочитатьДокумент",
        ]
        sandbox.fault(**refusal, times=2)
        with pytest.raises(signbridge.AuthError):
            client.status(handle)


def test_logout_call(sandbox: Sandbox) -> None:
    """The logout call sends СБИС.Выход; the next call logs in anew."""
    key, certificate = throwaway_key()
    with signbridge.Client(sbis_config(sandbox)) as client:
        client.set_host_signer(lambda data, form: cms_sign(key, certificate, data, form))
        handle = client.send(envelope("PY-SBIS-OUT"))
        sandbox.call("DELETE", "/__sandbox/requests")
        client.call("logout", {})
        assert client.status(handle).state is State.SENT
    assert methods(sandbox) == [
        "СБИС.Выход",
        "СБИС.Аутентифицировать",
        "СБИС.ПрочитатьДокумент",
    ]


def test_signed_and_archive_downloads_and_the_local_archive_index(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """`signed` is a zip of each file with its signatures (ours and the counterparty's) under
    the local archive's paths, `archive` SBIS's own zip; the local archive's index.json, read
    here as a host would, names files and signatures that are on disk."""
    key, certificate = throwaway_key("ООО «Наша» (pytest)")
    archive_dir = tmp_path / "sbis-archive"
    config = sbis_config(sandbox, archive_dir=str(archive_dir))
    with signbridge.Client(config) as client:
        client.set_host_signer(lambda data, form: cms_sign(key, certificate, data, form))
        handle = client.send(envelope("PY-SBIS-ZIP"))
        sandbox.call("POST", f"/__sandbox/sbis/documents/{handle.id}/counterparty-sign", {})
        assert client.status(handle).state is State.COMPLETED
        signed = client.download(handle, DownloadKind.SIGNED, tmp_path / "signed.zip")
        archive = client.download(handle, "archive")
        with pytest.raises(signbridge.SignbridgeError) as refused:
            client.download(handle, DownloadKind.DIGITALLY_SIGNED)
        assert refused.value.kind == "unsupported"
        client.call("archive", {"id": handle.id})

    with zipfile.ZipFile(signed) as z:
        names = sorted(z.namelist())
        [file] = [n for n in names if "/signatures/" not in n]
        assert z.read(file) == sample_pdf("Dogovor", 1)
        signatures = [n for n in names if n.startswith(file.split("/")[0] + "/signatures/")]
        assert len(signatures) == 2, names
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert z.read("dogovor.pdf") == sample_pdf("Dogovor", 1)

    folder = archive_dir / handle.id
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert index["document"] == handle.id
    assert index["state"]["code"] == "7"
    [entry] = index["files"]
    assert (folder / entry["path"]).read_bytes() == sample_pdf("Dogovor", 1)
    assert entry["path"] == file, "the signed zip uses the local archive's paths"
    directions = [s["direction"] for s in entry["signatures"]]
    assert directions == ["Исходящий", "Входящий"]
    for signature in entry["signatures"]:
        assert (folder / signature["path"]).read_bytes(), signature
