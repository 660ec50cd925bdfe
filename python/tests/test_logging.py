"""Core logs reach Python logging under the ``signbridge`` logger, without secrets."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support import Sandbox, envelope

import signbridge


def test_core_records_reach_the_signbridge_logger(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="signbridge")
    with signbridge.Client(sandbox.config(password="wrong-secret")) as c:
        with pytest.raises(signbridge.AuthError):
            c.send(envelope("ERP-LOG"))
    records = [r for r in caplog.records if r.name.startswith("signbridge")]
    failed = [r for r in records if r.levelno == logging.ERROR]
    assert len(failed) == 1, [r.getMessage() for r in records]
    message = failed[0].getMessage()
    assert message.startswith("failed error=login: ")
    assert "Usuário ou senha inválidos." in message and "reference=ERP-LOG" in message
    assert failed[0].name == "signbridge"
    assert failed[0].pathname.endswith(".rs"), "the record points at the Rust source"
    sending = [r for r in records if r.name == "signbridge.transport"]
    assert sending and sending[0].levelno == logging.DEBUG
    # Events inside an operation carry its span's fields.
    assert sending[0].getMessage().endswith(
        "[provider=tae account=test op=send reference=ERP-LOG]"
    )
    for r in records:
        assert "wrong-secret" not in r.getMessage(), "secrets are never logged"


def test_records_below_the_logger_level_are_not_forwarded(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="signbridge")
    with signbridge.Client(sandbox.config()) as c:
        c.send(envelope("ERP-QUIET"))
        with pytest.raises(signbridge.NotFound):
            c.status("tae:test:1")
    levels = [r.levelno for r in caplog.records if r.name.startswith("signbridge")]
    assert levels == [logging.WARNING], "only the not-found warning"


def test_async_calls_forward_their_records(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signbridge")

    async def missing() -> None:
        async with signbridge.AsyncClient(sandbox.config()) as c:
            with pytest.raises(signbridge.NotFound):
                await c.status("tae:test:1")

    asyncio.run(missing())
    warnings = [r for r in caplog.records if r.name == "signbridge"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "op=status" in warnings[0].getMessage()
