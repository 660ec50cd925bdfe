"""Exactly once from Python: a reference sent again returns its handle, a lost answer is
reconciled or resolved, a cancelled async send is left unknown for reconcile, and the budget."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from support import Sandbox, envelope

import signbridge
from signbridge import Outcome

UPLOAD = "/tae/documents/v1/envelopes/upload"
PUBLISH = "/tae/signintegration/v2/Publicacoes"


def test_a_reference_sent_again_returns_its_handle_without_a_request(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    first = client.send(envelope("PY-J-1"))
    sandbox.reset()
    assert client.send(envelope("PY-J-1")) == first
    assert sandbox.requests() == []

    other = dataclasses.replace(envelope("PY-J-1"), title="Outro contrato")
    with pytest.raises(signbridge.ValidationError) as refused:
        client.send(other)
    assert refused.value.field == "reference"
    again = client.send(other, new_document=True)
    assert again.id != first.id
    assert sandbox.count("POST", UPLOAD) == 1
    assert client.pending() == []


def test_a_lost_answer_is_reconciled_then_sent_once(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    sandbox.fault(path=PUBLISH, reset="after", times=1)
    with pytest.raises(signbridge.OutcomeUnknown) as lost:
        client.send(envelope("PY-J-2"))
    assert lost.value.handle is not None
    pending = client.pending()
    assert [(i.reference, i.state) for i in pending] == [
        ("PY-J-2", signbridge.IntentState.UNKNOWN)
    ]
    assert pending[0].ids.get("document_id") == lost.value.handle.id

    found = client.reconcile("PY-J-2")
    assert found.outcome in (Outcome.SENT, Outcome.DRAFT), found
    assert found.handle is not None and found.handle.id == lost.value.handle.id
    assert client.send(envelope("PY-J-2")).id == lost.value.handle.id
    assert sandbox.count("POST", UPLOAD) == 1
    assert sandbox.count("POST", PUBLISH) == 1
    assert client.reconcile_pending() == []

    with pytest.raises(signbridge.NotFound):
        client.reconcile("PY-J-NEVER")


def test_the_host_resolves_what_the_provider_cannot_tell(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    sandbox.fault(path=UPLOAD, reset="after", times=1)
    with pytest.raises(signbridge.OutcomeUnknown):
        client.send(envelope("PY-J-3"))
    with pytest.raises(TypeError, match="exactly one"):
        client.resolve("PY-J-3")
    with pytest.raises(TypeError, match="exactly one"):
        client.resolve("PY-J-3", sent_as="1", not_sent=True)
    # The upload's answer was lost: the journal has no id. The host found the document in
    # the provider's console (here: the sandbox's newest).
    assert "document_id" not in client.pending()[0].ids
    document_id = str(sandbox.call("GET", "/__sandbox/tae/documents")[-1]["id"])
    resolved = client.resolve("PY-J-3", sent_as=document_id)
    assert resolved.outcome == Outcome.SENT
    assert resolved.handle is not None and resolved.handle.id == document_id
    assert client.send(envelope("PY-J-3")).id == document_id
    with pytest.raises(signbridge.ConflictError):
        client.resolve("PY-J-3", not_sent=True)


def test_tae_has_no_budget_of_its_own(client: signbridge.Client) -> None:
    assert client.budget() == []


def test_async_journal_calls_and_a_cancelled_send(sandbox: Sandbox) -> None:
    async def main() -> None:
        async with signbridge.AsyncClient(sandbox.config()) as client:
            # The upload commits and its answer is slow: the host gives up meanwhile.
            sandbox.fault(path=UPLOAD, when="after", delay_ms=3000, times=1)
            task = asyncio.ensure_future(client.send(envelope("PY-J-4")))
            while sandbox.count("POST", UPLOAD) == 0:
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Core marks the cancelled send unknown as it is dropped; the write is on its way.
            deadline = time.monotonic() + 5
            state = None
            while time.monotonic() < deadline:
                pending = await client.pending()
                state = pending[0].state if pending else None
                if state == signbridge.IntentState.UNKNOWN:
                    break
                await asyncio.sleep(0.02)
            assert state == signbridge.IntentState.UNKNOWN
            found = await client.reconcile("PY-J-4")
            assert found.outcome == Outcome.DRAFT, found
            handle = await client.send(envelope("PY-J-4"))
            assert found.handle is not None and handle.id == found.handle.id
            assert sandbox.count("POST", UPLOAD) == 1, "never uploaded twice"
            assert await client.reconcile_pending() == []
            assert await client.budget() == []
            resolved = await client.reconcile("PY-J-4")
            assert resolved.outcome == Outcome.SENT
            with pytest.raises(signbridge.ConflictError):
                await client.resolve("PY-J-4", not_sent=True)

    asyncio.run(main())
