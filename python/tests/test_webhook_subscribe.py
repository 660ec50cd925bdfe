"""Completion learnt from a webhook, from Python (issue 14 item 7): the host registers its
embedded ``signbridge.Listener`` with iDocs and ArqSign through the ``webhook_subscribe`` call,
the counterparties sign at the sandbox, and the completed event comes through the listener's
event stream and is acked, with no status read at the provider."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support import (
    FAST_TRANSPORT,
    JOAO,
    MARIA,
    Sandbox,
    envelope,
    idocs_config,
    idocs_envelope,
    software_signer,
    throwaway_key,
)

from sandbox_helpers import config as example_config

import signbridge
from signbridge import EventKind, Listener

WAIT = 20.0


@pytest.fixture(autouse=True)
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SIGNBRIDGE_JOURNAL", str(path))
    return path


def free_port() -> int:
    """A loopback port for the listener. ArqSign makes the HMAC key when the webhook is
    created, and the listener's route needs it when it starts, so the URL comes first."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def completed(listener: Listener, document: str) -> signbridge.Event:
    """Reads and acks events until ``document``'s completion."""
    while True:
        event = listener.next_event(WAIT)
        assert event is not None, f"no completion event for {document}"
        assert event.ack() is True
        assert event.ack() is False, "acked once"
        if event.handle.id == document and event.raw["state"] == "completed":
            return event


def polls(sandbox: Sandbox, path_parts: List[str]) -> List[Dict[str, Any]]:
    return [
        r
        for r in sandbox.requests()
        if r["method"] == "GET" and any(p in r["path"] for p in path_parts)
    ]


def test_idocs_and_arqsign_completion_comes_from_the_webhook(sandbox: Sandbox) -> None:
    port = free_port()
    idocs = idocs_config(sandbox, webhooks_base_url=f"{sandbox.url}/idocs-webhooks/api/1")
    arqsign = example_config("arqsign", sandbox.url)
    arqsign["transport"] = FAST_TRANSPORT
    key, certificate = throwaway_key("ТОО Отправитель (webhook)")
    with signbridge.Client(idocs) as idocs_client, signbridge.Client(arqsign) as arq_client:
        assert "webhook_subscribe" in idocs_client.capability.calls
        assert "webhook_subscribe" in arq_client.capability.calls
        idocs_url = f"http://127.0.0.1:{port}/webhooks/idocs/example"
        answer = idocs_client.call("webhook_subscribe", {"url": idocs_url})
        assert answer == {"id": None, "url": idocs_url, "secret": None}
        arq_url = f"http://127.0.0.1:{port}/webhooks/arqsign/example"
        name = f"erp-{uuid.uuid4()}"
        hook = arq_client.call("webhook_subscribe", {"url": arq_url, "name": name})
        assert hook["url"] == arq_url and hook["id"] and hook["secret"]
        configs = sandbox_webhooks(sandbox, arqsign["settings"])
        mine = [c for c in configs if c["nome"] == name]
        assert mine and mine[0]["urlPublicar"] == arq_url
        assert [g["id"] for g in mine[0]["gatilhos"]] == [8]

        routes = [
            {"source": "idocs", "account": "example", "settings": {}},
            {
                "source": "arqsign",
                "account": "example",
                "settings": {"hmac_keys": [hook["secret"]]},
            },
        ]
        with Listener({"listen": f"127.0.0.1:{port}", "routes": routes}) as listener:
            idocs_client.set_host_signer(software_signer(key, certificate))
            document = idocs_client.send(idocs_envelope(f"HOOK-{uuid.uuid4().hex[:8]}"))
            sandbox.call("POST", f"/__sandbox/idocs/documents/{document.id}/counterparty-sign", {})
            event = completed(listener, document.id)
            assert event.kind == EventKind.STATE_CHANGED
            assert event.id.startswith("idocs:example:")

            process = arq_client.send(envelope(f"HOOK-{uuid.uuid4().hex[:8]}"))
            for email in (MARIA, JOAO):
                path = f"/__sandbox/arqsign/processes/{process.id}/sign"
                sandbox.call("POST", path, {"email": email})
            event = completed(listener, process.id)
            assert event.kind == EventKind.STATE_CHANGED
            assert event.raw["evento"] == "ProcessoConcluido"

            # What was learnt, was learnt from the webhooks: no status read at either provider.
            assert polls(sandbox, ["status-do-processo", "documents-query/single"]) == []
            assert idocs_client.download(document, signbridge.DownloadKind.SIGNED)[:4] == b"%PDF"
    # The webhook stays in the account; deactivating it is the host's call in ArqSign's UI.


def sandbox_webhooks(sandbox: Sandbox, settings: Dict[str, Any]) -> List[Dict[str, Any]]:
    """ArqSign's ``GET /api/v1/confwebhook`` with the sandbox account's keys."""
    request = urllib.request.Request(f"{sandbox.url}/arqsign/api/v1/confwebhook")
    request.add_header("AppKey", settings["app_key"])
    request.add_header("SubscriptionKey", settings["subscription_key"])
    with urllib.request.urlopen(request, timeout=10) as response:
        result: List[Dict[str, Any]] = json.loads(response.read())
    return result


def test_bad_subscription_arguments_name_the_field(sandbox: Sandbox) -> None:
    arqsign = example_config("arqsign", sandbox.url)
    with signbridge.Client(arqsign) as client:
        with pytest.raises(signbridge.ValidationError) as bad:
            client.call("webhook_subscribe", {"url": "erp.example/hook", "name": "x"})
        assert bad.value.field == "args.url"
        with pytest.raises(signbridge.ValidationError) as bad:
            args = {"url": "https://erp.example/h", "name": "x", "triggers": [9]}
            client.call("webhook_subscribe", args)
        assert bad.value.field == "args.triggers"
    assert sandbox.count("POST", "/confwebhook") == 0
