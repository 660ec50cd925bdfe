"""AsyncClient: the same flow as coroutines, concurrency, cancellation, errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support import JOAO, MARIA, Sandbox, envelope

import signbridge
from signbridge import EventKind, State

STATUS_PATH = "/tae/documents/v2/publicacoes/*"


def test_the_whole_flow(sandbox: Sandbox, tmp_path: Path) -> None:
    async def flow() -> None:
        async with signbridge.AsyncClient(sandbox.config()) as client:
            handle = await client.send(envelope("ERP-ASYNC"))
            assert (await client.status(handle)).state is State.SENT
            sandbox.sign(handle.id, MARIA)
            sandbox.sign(handle.id, JOAO)
            [status] = await client.refresh([handle])
            assert isinstance(status, signbridge.Status) and status.state is State.COMPLETED
            kinds = [e.kind async for e in client.events(timeout=0.05)]
            assert kinds.count(EventKind.PARTY_SIGNED) == 2
            assert kinds[-1] is EventKind.STATE_CHANGED
            signed = await client.download(handle, "signed")
            assert signed.startswith(b"%PDF")
            path = await client.download(handle, "signed", tmp_path / "signed.pdf")
            assert path.read_bytes()[:4] == b"%PDF"
            with pytest.raises(signbridge.ConflictError):
                await client.cancel(handle)
            other = await client.send(envelope("ERP-ASYNC-2"))
            await client.cancel(other)
            assert (await client.status(other)).state is State.CANCELLED
        assert client.closed

    asyncio.run(flow())


def test_a_hundred_concurrent_status_calls(sandbox: Sandbox) -> None:
    async def many() -> None:
        async with signbridge.AsyncClient(sandbox.config()) as client:
            handle = await client.send(envelope("ERP-100"))
            # Each answer takes 500 ms: one after the other would take 50 s.
            sandbox.fault(path=STATUS_PATH, delay_ms=500, times=100)
            ticks = 0

            async def count_loop_ticks() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.ensure_future(count_loop_ticks())
            started = time.monotonic()
            statuses = await asyncio.gather(*(client.status(handle) for _ in range(100)))
            elapsed = time.monotonic() - started
            ticker.cancel()
            assert [s.state for s in statuses] == [State.SENT] * 100
            assert elapsed < 10, f"100 calls took {elapsed:.1f}s"
            assert ticks > elapsed * 20, "the event loop kept running meanwhile"

    asyncio.run(many())
    assert sandbox.count("GET", "/v2/publicacoes/") == 100


def test_errors_are_raised_from_await(sandbox: Sandbox) -> None:
    async def failing() -> None:
        async with signbridge.AsyncClient(sandbox.config()) as client:
            with pytest.raises(signbridge.NotFound) as missing:
                await client.status("tae:test:1")
            assert missing.value.http_status == 404
            sandbox.fault(path="/tae/signintegration/v2/Publicacoes", reset="after")
            with pytest.raises(signbridge.OutcomeUnknown) as lost:
                await client.send(envelope("ERP-ALOST"))
            assert lost.value.handle is not None
            assert (await client.status(lost.value.handle)).state is State.SENT

    asyncio.run(failing())


def test_cancelling_the_task_abandons_the_call(sandbox: Sandbox) -> None:
    async def cancelled() -> None:
        async with signbridge.AsyncClient(sandbox.config()) as client:
            handle = await client.send(envelope("ERP-ACANCEL"))
            sandbox.fault(path=STATUS_PATH, delay_ms=10_000)
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.status(handle), timeout=0.3)
            assert time.monotonic() - started < 1
            sandbox.reset()
            assert (await client.status(handle)).state is State.SENT

    asyncio.run(cancelled())
