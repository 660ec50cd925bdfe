"""Webhook intake from Python: ``Receiver.handle`` answers as the core does, events come
until acknowledged (again after a restart), and a client of the account sees its webhook
events on the same journal."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime
from pathlib import Path

import pytest

from signbridge import AsyncClient, Client, EventKind, NotFound, Receiver, ValidationError

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


TAE_SETTINGS = {
    "auth_base": "http://127.0.0.1:9/id",
    "api_base": "http://127.0.0.1:9/",
    "username": "u@x.example",
    "password": "p",
}


def test_replay_from_a_position_or_a_time_acknowledges_nothing(journal: Path) -> None:
    rx = Receiver(CONFIG)
    for doc in (1, 2):
        body = json.dumps({"IdDocumento": doc, "idPublicacao": "p", "status": 2}).encode()
        assert rx.handle("tae", "rm", "POST", {}, body).status == 200
    with Client({"provider": "tae", "account": "rm", "settings": TAE_SETTINGS}) as client:
        first = client.next_event(timeout=0)
        assert first is not None and first.ack()
        replayed = client.replay(0)
        assert [r.event.handle.id for r in replayed] == ["1", "2"]
        assert replayed[0].acked_at is not None and replayed[1].acked_at is None
        assert replayed[0].position < replayed[1].position
        after = client.replay(replayed[0].position)
        assert [r.event.id for r in after] == [replayed[1].event.id]
        assert len(client.replay(replayed[0].committed_at)) == 2, "an aware datetime"
        assert len(client.replay("2000-01-01T00:00:00Z", limit=1)) == 1, "bounded by limit"
        with pytest.raises(ValidationError, match="since"):
            client.replay("yesterday")
        with pytest.raises(ValueError, match="naive"):
            client.replay(datetime(2020, 1, 1))
        pending = client.next_event(timeout=0)
        assert pending is not None and pending.handle.id == "2", "replay took nothing"
        assert client.prune_events(1) == 0, "acked just now: kept"


def test_async_replay_and_prune(journal: Path) -> None:
    rx = Receiver(CONFIG)
    body = b'{"IdDocumento": 7, "idPublicacao": "p", "status": 3}'
    assert rx.handle("tae", "rm", "POST", {}, body).status == 200

    async def main() -> None:
        async with AsyncClient({"provider": "tae", "account": "rm", "settings": TAE_SETTINGS}) as client:
            (only,) = await client.replay(0, 10)
            assert only.event.handle.id == "7" and only.acked_at is None
            assert await client.prune_events(0) == 0, "a pending event is never pruned"

    asyncio.run(main())


def test_auth_none_without_a_link_secret_is_refused_naming_the_field(journal: Path) -> None:
    """The kept download links are sealed with a key derived from a secret: ``["none"]``
    leaves none, so the route needs ``link_secret``."""
    def route(settings: dict[str, object]) -> dict[str, object]:
        return {"routes": [{"source": "sintegre", "account": "ons", "settings": settings}]}

    with pytest.raises(ValidationError, match="only \"none\"") as refused:
        Receiver(route({"auth": ["none"]}))
    assert refused.value.field == "routes.sintegre.settings.link_secret"
    rx = Receiver(route({"auth": ["none"], "link_secret": "the operator's"}))
    kept = rx.handle("sintegre", "ons", "POST", {"Content-Type": "application/json"}, _ipdo(FILE, 1))
    assert kept.status == 200
