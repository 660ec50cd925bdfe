"""Webhook intake from Python: ``Receiver.handle`` answers as the core does, events come
until acknowledged (again after a restart), and a client of the account sees its webhook
events on the same journal."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from signbridge import Client, EventKind, NotFound, Receiver

FILE = "https://sintegre.ons.org.br/sites/7/39/Produtos/155/IPDO-20-02-2025.pdf"


def _token(file: str, nbf: int) -> str:
    def enc(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"URL": file, "IsFile": "True", "nbf": nbf, "exp": nbf + 86640}
    return f"{enc({'typ': 'JWT', 'alg': 'HS256'})}.{enc(claims)}.c2ln"


def _ipdo(file: str, nbf: int) -> bytes:
    return json.dumps(
        {
            "nome": "IPDO (Informativo Preliminar Diário da Operação)",
            "processo": "Operação em Tempo Real",
            "dataProduto": "20/02/2025",
            "macroProcesso": "Operação do Sistema",
            "periodicidade": "2025-02-20T00:00:00",
            "periodicidadeFinal": "2025-02-20T23:59:59",
            "url": f"https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token={_token(file, nbf)}",
        },
        ensure_ascii=False,
    ).encode()


CONFIG = {
    "routes": [
        {
            "source": "sintegre",
            "account": "ons",
            "settings": {"auth": [{"token": {"value": "ninguemsabe"}}]},
        },
        {"source": "tae", "account": "rm"},
    ]
}
HEADERS = {"Content-Type": "application/json", "Authorization": "ninguemsabe"}


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SIGNBRIDGE_JOURNAL", str(path))
    return path


def test_replies_and_events_until_acked(journal: Path) -> None:
    rx = Receiver(CONFIG)
    assert rx.handle("sintegre", "nobody", "POST", HEADERS, b"{}").status == 404
    assert rx.handle("sintegre", "ons", "GET", HEADERS, _ipdo(FILE, 1)).status == 405
    refused = rx.handle("sintegre", "ons", "POST", {"Authorization": "x"}, _ipdo(FILE, 1))
    assert refused.status == 401
    assert rx.handle("sintegre", "ons", "POST", HEADERS, b'{"nome": "x"}').status == 400
    ok = rx.handle("sintegre", "ons", "POST", HEADERS, _ipdo(FILE, 1))
    assert (ok.status, json.loads(ok.body)) == (200, {"received": True, "duplicate": False})
    assert ("Content-Type", "application/json") in ok.headers
    again = rx.handle("sintegre", "ons", "POST", list(HEADERS.items()), _ipdo(FILE, 2))
    assert json.loads(again.body)["duplicate"] is True

    events = list(rx.events(timeout=0))
    assert [e.kind for e in events] == [EventKind.DOCUMENT_RECEIVED]
    assert events[0].raw["file"] == FILE and "token" not in json.dumps(events[0].raw)
    del rx

    restarted = Receiver(CONFIG)
    (same,) = list(restarted.events(timeout=0))
    assert same == events[0], "not acknowledged: handed out again"
    assert same.ack() is True
    assert same.ack() is False
    with pytest.raises(NotFound):
        restarted.ack_event("no-such-event")
    assert restarted.next_event(timeout=0) is None


def test_a_client_of_the_account_sees_and_acks_its_webhook_events(journal: Path) -> None:
    rx = Receiver(CONFIG)
    body = b'{"IdDocumento": 4242, "idPublicacao": "p1", "status": 2}'
    assert rx.handle("tae", "rm", "POST", {}, body).status == 200
    settings = {
        "auth_base": "http://127.0.0.1:9/id",
        "api_base": "http://127.0.0.1:9/",
        "username": "u@x.example",
        "password": "p",
    }
    with Client({"provider": "tae", "account": "rm", "settings": settings}) as client:
        for event in client.events(timeout=0):
            assert (event.kind, event.handle.id) == (EventKind.STATE_CHANGED, "4242")
            assert event.ack()
        assert client.next_event(timeout=0) is None
        assert client.ack_event("tae:rm:4242:p1:2:") is False, "acked once, above"
