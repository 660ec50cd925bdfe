"""SINtegre content dedupe (K2, ``sintegre.md`` §3.6 and §7) from Python, against the sandbox's
simulator: the same bytes published again under another file name (another K1) are received but
their file is not told again, nor left as a second copy; new bytes under the same name (the same
K1, a republication) are fetched again and told."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from support import Sandbox
from test_listener import listener_config, settle

from signbridge import Event, EventKind, Listener

FIRST = "%PDF-1.7 IPDO de 20/02/2025"
REPUBLISHED = "%PDF-1.7 IPDO de 20/02/2025, revisado"
PERIOD = {
    "dataProduto": "20/02/2025",
    "periodicidade": "2025-02-20T00:00:00",
    "periodicidadeFinal": "2025-02-20T23:59:59",
}


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SIGNBRIDGE_JOURNAL", str(path))
    return path


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def take(events: Iterator[Event], kind: EventKind) -> Event:
    event = next(events)
    assert event.kind == kind, event
    assert event.ack() is True
    return event


def test_same_content_is_told_once_and_new_content_under_the_same_name_again(
    sandbox: Sandbox, journal: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    sandbox.call("DELETE", "/__sandbox/sintegre/deliveries")
    product = sandbox.call(
        "POST",
        "/__sandbox/sintegre/products",
        {"nome": "IPDO K2", "processo": "Operação em Tempo Real", "macroProcesso": "Operação"},
    )["id"]

    def publish(file_name: str, content: str) -> None:
        publication: Dict[str, Any] = {**PERIOD, "file_name": file_name, "content": content}
        sandbox.call("POST", f"/__sandbox/sintegre/products/{product}/publications", publication)

    with Listener(listener_config(folder)) as listener:
        auth = {"type": "basic", "user": "ons", "password": "s3nha"}
        route = f"{listener.url}/webhooks/sintegre/ons"
        sandbox.call(
            "POST",
            "/__sandbox/sintegre/integrations",
            {"descricao": "erp", "url": route, "auth": auth, "produtos": [product]},
        )
        events = listener.events(timeout=60)

        publish("IPDO-20-02-2025.pdf", FIRST)
        first = take(events, EventKind.DOCUMENT_RECEIVED)
        told = take(events, EventKind.FILE_DOWNLOADED)
        assert told.raw["sha256"] == sha256(FIRST)
        assert told.raw["key"] == first.raw["key"]

        # The same bytes under another name: another notification (K1), the same content (K2).
        publish("IPDO-20-02-2025-REV1.pdf", FIRST)
        again = take(events, EventKind.DOCUMENT_RECEIVED)
        assert again.raw["key"] != first.raw["key"]

        # New bytes under the first name: the same K1 (a resend to the receiver), new content.
        publish("IPDO-20-02-2025.pdf", REPUBLISHED)
        republished = take(events, EventKind.FILE_DOWNLOADED)
        assert republished.raw["key"] == first.raw["key"]
        assert republished.raw["sha256"] == sha256(REPUBLISHED)
        assert republished.id != told.id, "a new version is a new event"
        assert republished.raw["deliveries"] == 2
        assert Path(republished.raw["path"]).read_text() == REPUBLISHED
        # The worker takes links in the order they came: REV1's was done before this one.
        assert listener.next_event(timeout=0) is None, "no file event for the same content"
        summary = settle(sandbox)
        assert (summary["delivered"], summary["failed"]) == (3, 0), summary

    # REV1's file was told nowhere and left nowhere; its row says whose content it has.
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT key, download, content_of, file_path FROM inbox ORDER BY first_ms"
        ).fetchall()
    assert [(key, state) for key, state, _, _ in rows] == [
        (first.raw["key"], "done"),
        (again.raw["key"], "content_duplicate"),
    ]
    assert rows[1][2] == first.raw["key"] and rows[1][3] == told.raw["path"]
    assert Path(told.raw["path"]).read_text() == FIRST
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted({Path(told.raw["path"]).name, Path(republished.raw["path"]).name})
    assert "IPDO-20-02-2025-REV1.pdf" not in names
