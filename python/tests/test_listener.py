"""The embedded listener from Python (issue 14 part 5): the sandbox's SINtegre simulator
publishes → ``signbridge.Listener`` receives it with Basic auth → its worker downloads the file
→ the events come and are acked; a wrong password → 401 with nothing stored; the asyncio form
and ``AsyncReceiver.handle`` do the same."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict

import pytest
from support import Sandbox

from signbridge import AsyncListener, AsyncReceiver, Event, EventKind, Listener

CONTENT = "%PDF-1.7 IPDO de 20/02/2025"


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SIGNBRIDGE_JOURNAL", str(path))
    return path


def listener_config(folder: Path) -> Dict[str, Any]:
    # No host allowed but the loopback (the sandbox): a test never fetches from the net.
    downloads = {
        "folder": str(folder),
        "allow_hosts": [],
        "allow_loopback_http": True,
        "retry_initial_ms": 20,
        "retry_max_ms": 100,
    }
    settings = {"auth": [{"basic": {"user": "ons", "password": "s3nha"}}], "downloads": downloads}
    return {
        "listen": "127.0.0.1:0",
        "download_poll_ms": 20,
        "routes": [{"source": "sintegre", "account": "ons", "settings": settings}],
    }


def publish(sandbox: Sandbox, receiver: str, password: str, product_name: str) -> None:
    """A product (named ``product_name``: the sandbox's names are unique), an integration posting it to ``receiver`` with Basic ons:``password``,
    one publication. Earlier tests' deliveries are forgotten."""
    sandbox.call("DELETE", "/__sandbox/sintegre/deliveries")
    product = sandbox.call(
        "POST",
        "/__sandbox/sintegre/products",
        {"nome": product_name, "processo": "Operação em Tempo Real", "macroProcesso": "Operação"},
    )["id"]
    auth = {"type": "basic", "user": "ons", "password": password}
    sandbox.call(
        "POST",
        "/__sandbox/sintegre/integrations",
        {"descricao": "erp", "url": receiver, "auth": auth, "produtos": [product]},
    )
    publication = {
        "dataProduto": "20/02/2025",
        "periodicidade": "2025-02-20T00:00:00",
        "periodicidadeFinal": "2025-02-20T23:59:59",
        "file_name": "IPDO-20-02-2025.pdf",
        "content": CONTENT,
    }
    sandbox.call("POST", f"/__sandbox/sintegre/products/{product}/publications", publication)


def settle(sandbox: Sandbox) -> Any:
    return sandbox.call("POST", "/__sandbox/sintegre/deliveries/settle", {"timeout_ms": 20000})


def check_downloaded(event: Event, folder: Path) -> None:
    assert event.kind == EventKind.FILE_DOWNLOADED
    path = folder / "IPDO-20-02-2025.pdf"
    assert event.raw["path"] == str(path)
    assert path.read_text() == CONTENT
    assert event.raw["sha256"] == hashlib.sha256(CONTENT.encode()).hexdigest()


def test_a_publication_is_received_downloaded_and_acked(
    sandbox: Sandbox, journal: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    with Listener(listener_config(folder)) as listener:
        host, port = listener.address
        assert listener.url == f"http://{host}:{port}" and host == "127.0.0.1" and port > 0
        with urllib.request.urlopen(f"{listener.url}/health", timeout=10) as health:
            assert json.load(health) == {"status": "ok"}
        publish(sandbox, f"{listener.url}/webhooks/sintegre/ons", "s3nha", "IPDO")
        events = listener.events(timeout=60)
        received = next(events)
        assert received.kind == EventKind.DOCUMENT_RECEIVED
        assert "token" not in json.dumps(received.raw), "the link's token is a secret"
        assert received.ack() is True
        downloaded = next(events)
        check_downloaded(downloaded, folder)
        assert listener.ack_event(downloaded.id) is True
        assert listener.next_event(timeout=0) is None, "both acked: nothing more"
        summary = settle(sandbox)
        assert (summary["delivered"], summary["failed"]) == (1, 0), summary
    assert listener.stopped
    with pytest.raises(RuntimeError, match="stopped"):
        listener.next_event(timeout=0)
    listener.stop()  # a second stop does nothing

    again = Listener(listener_config(folder))
    try:
        assert again.next_event(timeout=0) is None, "acked events are not handed out again"
    finally:
        again.stop()


def test_a_wrong_password_is_refused_with_401_and_nothing_stored(
    sandbox: Sandbox, journal: Path, tmp_path: Path
) -> None:
    with Listener(listener_config(tmp_path / "files")) as listener:
        route = f"{listener.url}/webhooks/sintegre/ons"
        publish(sandbox, route, "errada", "IPDO errada")
        summary = settle(sandbox)
        assert (summary["delivered"], summary["failed"]) == (0, 1), summary
        (delivery,) = sandbox.call("GET", "/__sandbox/sintegre/deliveries")
        assert delivery["last_answer"]["status"] == 401
        request = urllib.request.Request(
            route,
            data=b'{"nome": "x"}',
            method="POST",
            headers={"Authorization": "Basic " + base64.b64encode(b"ons:nope").decode()},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        with refused.value:
            assert refused.value.code == 401
            assert refused.value.headers["WWW-Authenticate"].startswith("Basic")
        assert listener.next_event(timeout=0) is None, "nothing stored"


def test_asyncio_listener_and_receiver(sandbox: Sandbox, journal: Path, tmp_path: Path) -> None:
    folder = tmp_path / "files"

    async def main() -> None:
        async with AsyncListener(listener_config(folder)) as listener:
            publish(sandbox, f"{listener.url}/webhooks/sintegre/ons", "s3nha", "IPDO asyncio")
            kinds = []
            async for event in listener.events(timeout=60):
                kinds.append(event.kind)
                assert await listener.ack_event(event.id) is True
                if event.kind == EventKind.FILE_DOWNLOADED:
                    check_downloaded(event, folder)
                    break
            assert kinds == [EventKind.DOCUMENT_RECEIVED, EventKind.FILE_DOWNLOADED]
            assert await listener.next_event(timeout=0) is None
        assert listener.stopped

        # The host's own asyncio server hands a delivery to the receiver (the journal of the
        # listener above: the same notification again is a duplicate).
        (delivery,) = sandbox.call("GET", "/__sandbox/sintegre/deliveries")
        request = delivery["request"]
        body = json.dumps(request["body"]).encode()
        rx = AsyncReceiver({"routes": listener_config(folder)["routes"]})
        basic = {"Authorization": "Basic " + base64.b64encode(b"ons:s3nha").decode()}
        headers = {"Content-Type": "application/json", **basic}
        reply = await rx.handle("sintegre", "ons", "POST", headers, body)
        assert (reply.status, json.loads(reply.body)["duplicate"]) == (200, True)
        refused = await rx.handle("sintegre", "ons", "POST", {}, body)
        assert refused.status == 401
        assert await rx.next_event(timeout=0) is None

    asyncio.run(main())


def test_the_same_content_is_told_once_and_new_content_under_the_same_name_again(
    sandbox: Sandbox, journal: Path, tmp_path: Path
) -> None:
    """K2 (sintegre.md §3.6, §7): the same bytes under another file name (another K1) get no
    second ``file_downloaded`` and leave no second copy; new bytes under the same name do."""
    folder = tmp_path / "files"
    with Listener(listener_config(folder)) as listener:
        publish(sandbox, f"{listener.url}/webhooks/sintegre/ons", "s3nha", "IPDO K2")
        product = sandbox.call("GET", "/__sandbox/sintegre/products")
        product_id = next(p["id"] for p in product if p["nome"] == "IPDO K2")
        events = listener.events(timeout=60)
        first = next(events)
        assert first.kind == EventKind.DOCUMENT_RECEIVED and first.ack()
        downloaded = next(events)
        check_downloaded(downloaded, folder)
        assert downloaded.raw["deliveries"] == 1 and downloaded.ack()
        assert downloaded.raw["latest_for_period"] is True, "the only version yet"

        def again(file_name: str, content: str) -> None:
            # A later clock: the fresh token of this send expires later than the last one's.
            sandbox.call("POST", "/__sandbox/sintegre/clock/advance", {"secs": 60})
            publication = {
                "dataProduto": "20/02/2025",
                "periodicidade": "2025-02-20T00:00:00",
                "periodicidadeFinal": "2025-02-20T23:59:59",
                "file_name": file_name,
                "content": content,
            }
            path = f"/__sandbox/sintegre/products/{product_id}/publications"
            sandbox.call("POST", path, publication)

        again("IPDO-20-02-2025-REV1.pdf", CONTENT)
        second = next(events)
        assert second.kind == EventKind.DOCUMENT_RECEIVED and second.ack()
        assert second.handle.id != first.handle.id, "another name, another K1"
        assert (first.raw["latest_for_period"], second.raw["latest_for_period"]) == (True, True)
        again("IPDO-20-02-2025.pdf", "%PDF-1.7 IPDO revisado")
        # The REV1 link was due first, so it was fetched (and found a duplicate) before this.
        republished = next(events)
        assert republished.kind == EventKind.FILE_DOWNLOADED, republished.raw
        assert republished.handle.id == first.handle.id and republished.id != downloaded.id
        revised = hashlib.sha256(b"%PDF-1.7 IPDO revisado").hexdigest()
        assert republished.raw["sha256"] == revised and republished.raw["deliveries"] == 2
        assert republished.raw["latest_for_period"] is True
        assert republished.ack()
        assert sorted(p.name for p in folder.iterdir()) == [
            "IPDO-20-02-2025 (2).pdf",
            "IPDO-20-02-2025.pdf",
        ]
        assert (folder / "IPDO-20-02-2025.pdf").read_text() == CONTENT
