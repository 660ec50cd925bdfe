"""The signing flow through the installed wheel, against the TAE sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import JOAO, MARIA, Sandbox, envelope, sample_pdf

import signbridge
from signbridge import DownloadKind, EventKind, PartyState, State


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def test_send_sign_status_download_and_cancel(
    sandbox: Sandbox, client: signbridge.Client, tmp_path: Path
) -> None:
    handle = client.send(envelope("ERP-1"))
    assert (handle.provider, handle.account, handle.reference) == ("tae", "test", "ERP-1")
    assert str(handle) == f"tae:test:{handle.id}"

    status = client.status(handle)
    assert status.state is State.SENT
    assert [p.state for p in status.parties] == [PartyState.PENDING, PartyState.PENDING]

    sandbox.sign(handle.id, MARIA)
    status = client.status(handle)
    assert status.state is State.PARTIALLY_SIGNED
    maria = next(p for p in status.parties if p.email == MARIA)
    assert maria.state is PartyState.SIGNED and maria.acted_at is not None
    assert maria.acted_at.tzinfo is not None

    sandbox.sign(handle.id, JOAO)
    status = client.status(handle)
    assert status.state is State.COMPLETED and status.state.is_terminal
    assert status.provider_status == "2"

    signed = client.download(handle, DownloadKind.SIGNED)
    assert signed.startswith(b"%PDF")
    assert page_count(signed) > page_count(sample_pdf("Contrato", 2)) == 2
    written = client.download(handle, "archive", tmp_path / "all.zip")
    assert written == tmp_path / "all.zip"
    assert written.read_bytes()[:2] == b"PK"
    assert [p.name for p in tmp_path.iterdir()] == ["all.zip"], "no partial file left behind"

    with pytest.raises(signbridge.ConflictError) as finished:
        client.cancel(handle)
    assert finished.value.http_status == 400

    other = client.send(envelope("ERP-2"))
    client.cancel(other)
    assert client.status(other).state is State.CANCELLED


def test_handles_go_by_object_dict_json_or_compact_text(client: signbridge.Client) -> None:
    handle = client.send(envelope("ERP-FORMS"))
    for form in (handle, handle.to_dict(), handle.to_json(), str(handle)):
        assert client.status(form).state is State.SENT
    assert signbridge.Handle.parse(handle.to_json()) == handle
    assert signbridge.Handle.parse(str(handle)) == signbridge.Handle("tae", "test", handle.id)


def test_envelopes_go_as_dataclass_dict_or_json(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    as_dict = envelope("ERP-DICT").to_dict()
    as_dict["reference"] = "ERP-DICT"
    assert client.send(as_dict).reference == "ERP-DICT"
    as_dict["reference"] = "ERP-JSON"
    assert client.send(json.dumps(as_dict)).reference == "ERP-JSON"
    publish = [r for r in sandbox.requests() if r["path"].lower().endswith("/publicacoes")]
    assert publish[0]["body"]["publicacaoOpcoes"]["assuntoMensagem"] == (
        "Assinatura do contrato nº 123"
    )


def test_documents_from_paths_are_uploaded(client: signbridge.Client, tmp_path: Path) -> None:
    path = tmp_path / "aditivo.pdf"
    path.write_bytes(sample_pdf("Aditivo", 3))
    env = envelope("ERP-PATH")
    env.documents = [signbridge.Document.from_path(path)]
    handle = client.send(env)
    assert client.download(handle, "original") == path.read_bytes()


def test_refresh_reports_each_handle(sandbox: Sandbox, client: signbridge.Client) -> None:
    a = client.send(envelope("ERP-A"))
    b = client.send(envelope("ERP-B"))
    sandbox.reject(b.id, MARIA, "Cláusula 3 está errada")
    missing = signbridge.Handle("tae", "test", "1")
    other_account = "tae:outra:1"
    # A bare id is a handle of the client's account.
    results = client.refresh([a, missing, b.id, other_account])
    assert len(results) == 4
    first, gone, rejected, foreign = results
    assert isinstance(first, signbridge.Status) and first.state is State.SENT
    assert isinstance(gone, signbridge.NotFound)
    assert gone.provider_message == "Documento não encontrado."
    assert gone.http_status == 404 and gone.handle is None
    assert isinstance(rejected, signbridge.Status) and rejected.state is State.REJECTED
    assert rejected.reason == "Cláusula 3 está errada"
    assert isinstance(foreign, signbridge.ValidationError) and foreign.field == "handle"


def test_polling_yields_events(sandbox: Sandbox, client: signbridge.Client) -> None:
    handle = client.send(envelope("ERP-EV"))
    client.status(handle)
    assert client.next_event(timeout=0.02) is None
    sandbox.sign(handle.id, MARIA)
    client.status(handle)
    events = list(client.events(timeout=0.05))
    assert [e.kind for e in events] == [EventKind.PARTY_SIGNED, EventKind.STATE_CHANGED]
    assert events[0].id == f"tae:test:{handle.id}:party:{MARIA}:signed"
    assert events[1].handle == signbridge.Handle("tae", "test", handle.id)
    assert events[1].raw["state"] == "partially_signed"


def test_a_closed_client_refuses_calls(sandbox: Sandbox) -> None:
    with signbridge.Client(sandbox.config()) as c:
        assert not c.closed
        assert repr(c) == "<Client tae:test>"
    assert c.closed
    with pytest.raises(RuntimeError, match="closed"):
        c.status("tae:test:1")


def test_the_environment_fills_in_settings(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sandbox.config()
    del config["settings"]["password"]
    monkeypatch.setenv("SIGNBRIDGE_TAE_PASSWORD", "sandbox-password")
    with signbridge.Client(json.dumps(config)) as c:
        assert c.send(envelope("ERP-ENV")).reference == "ERP-ENV"
