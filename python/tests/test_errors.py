"""Every exception class, raised by a real condition; and the hierarchy matches the core."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from support import MARIA, Sandbox, envelope

import signbridge
from signbridge import State, _native, errors

STATUS_PATH = "/tae/documents/v2/publicacoes/*"
PUBLISH_PATH = "/tae/signintegration/v2/Publicacoes"


def test_every_core_error_kind_has_its_class() -> None:
    classes = {
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, signbridge.SignbridgeError)
    }
    listed = {errors.error_class(name) for _, name in _native.ERROR_KINDS}
    for code, name in _native.ERROR_KINDS:
        cls = errors.error_class(name)
        assert cls is not signbridge.SignbridgeError, f"no class for core kind {name} ({code})"
        assert (cls.code, cls.kind) == (code, name)
        assert getattr(signbridge, cls.__name__) is cls, f"{cls.__name__} is not exported"
    assert classes - listed == {signbridge.SignbridgeError}, "a class without a core kind"


def test_a_bad_envelope_fails_before_any_request(
    sandbox: Sandbox, client: signbridge.Client, tmp_path: Path
) -> None:
    env = envelope("ERP-BAD")
    env.parties[1].email = MARIA.upper()
    with pytest.raises(signbridge.ValidationError) as duplicate:
        client.send(env)
    assert duplicate.value.field == "parties[1].email"
    assert duplicate.value.code == 300 and duplicate.value.http_status is None

    empty = tmp_path / "vazio.pdf"
    empty.write_bytes(b"")
    env = envelope("ERP-BAD")
    env.documents = [signbridge.Document.from_path(empty)]
    with pytest.raises(signbridge.ValidationError) as unreadable:
        client.send(env)
    assert unreadable.value.field == "documents[0].content"

    as_dict = envelope("ERP-BAD").to_dict()
    as_dict["titel"] = "typo"
    with pytest.raises(signbridge.ValidationError, match="unknown field `titel`") as unknown:
        client.send(as_dict)
    assert unknown.value.field == "titel"

    with pytest.raises(signbridge.ValidationError) as kind:
        client.download("tae:test:1", "zip")
    assert kind.value.field == "kind"
    assert sandbox.requests() == [], "the sandbox saw no request"


def test_a_wrong_password_is_an_auth_error(sandbox: Sandbox) -> None:
    with signbridge.Client(sandbox.config(password="wrong-secret")) as c:
        with pytest.raises(signbridge.AuthError) as refused:
            c.send(envelope("ERP-PW"))
    assert refused.value.http_status == 400
    assert refused.value.provider_message == "Usuário ou senha inválidos."
    assert "wrong-secret" not in str(refused.value), "no secret in messages"


def test_a_missing_document_is_not_found(client: signbridge.Client) -> None:
    with pytest.raises(signbridge.NotFound) as missing:
        client.status("tae:test:1")
    assert missing.value.provider_message == "Documento não encontrado."


def test_a_retry_after_beyond_the_limit_is_rate_limited(sandbox: Sandbox) -> None:
    with signbridge.Client(sandbox.config({"max_retry_after_ms": 500})) as c:
        handle = c.send(envelope("ERP-429"))
        sandbox.fault(path=STATUS_PATH, status=429, retry_after="120")
        started = time.monotonic()
        with pytest.raises(signbridge.RateLimited) as limited:
            c.status(handle)
    assert limited.value.retry_after == 120.0
    assert limited.value.http_status == 429
    assert time.monotonic() - started < 5, "the wait is reported, not waited out"


def test_server_errors_on_reads_end_as_provider_errors(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    handle = client.send(envelope("ERP-5XX"))
    sandbox.fault(path=STATUS_PATH, status=502, times=10)
    with pytest.raises(signbridge.ProviderError) as failed:
        client.status(handle)
    assert failed.value.http_status == 502
    assert sandbox.count("GET", "/v2/publicacoes/") == 4, "the first try and 3 retries"


def test_a_reset_after_publish_is_outcome_unknown_with_the_handle(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    sandbox.fault(path=PUBLISH_PATH, reset="after")
    with pytest.raises(signbridge.OutcomeUnknown) as lost:
        client.send(envelope("ERP-LOST"))
    handle = lost.value.handle
    assert isinstance(handle, signbridge.Handle) and handle.reference == "ERP-LOST"
    assert sandbox.count("POST", "/publicacoes") == 1, "the publish is never sent twice"
    assert client.status(handle).state is State.SENT, "it did take effect"


def test_a_refused_connection_is_a_transport_error(sandbox: Sandbox) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    config = sandbox.config({"max_retries": 0})
    config["settings"]["auth_base"] = f"http://127.0.0.1:{closed_port}/tae/identityintegration"
    with signbridge.Client(config) as c:
        with pytest.raises(signbridge.TransportError):
            c.send(envelope("ERP-CONN"))


def test_a_slow_answer_is_a_timeout(sandbox: Sandbox, client: signbridge.Client) -> None:
    handle = client.send(envelope("ERP-SLOW"))
    with signbridge.Client(sandbox.config({"request_timeout_ms": 300, "max_retries": 0})) as c:
        sandbox.fault(path=STATUS_PATH, delay_ms=3000)
        with pytest.raises(signbridge.Timeout):
            c.status(handle)


def test_a_missing_download_kind_is_unsupported(client: signbridge.Client) -> None:
    handle = client.send(envelope("ERP-EVID"))
    with pytest.raises(signbridge.UnsupportedError):
        client.download(handle, "evidence")


def test_an_incomplete_configuration_is_a_config_error(sandbox: Sandbox) -> None:
    with pytest.raises(signbridge.ConfigError, match="known: tae"):
        signbridge.Client({"provider": "nope"})
    with pytest.raises(signbridge.ConfigError):
        signbridge.Client('{"provider": "tae", "setings": {}}')
    config = sandbox.config()
    del config["settings"]["api_base"]
    with pytest.raises(signbridge.ConfigError):
        signbridge.Client(config)


def test_a_rust_panic_is_logged_never_printed(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # The host's stderr is its own: a panic goes to the signbridge logger, at ERROR, whether it
    # happened at the boundary or on the runtime's threads.
    caplog.set_level(logging.ERROR, logger="signbridge")
    capfd.readouterr()
    for in_task in (False, True):
        with pytest.raises(signbridge.InternalError):
            _native._panic_for_test(in_task)
    assert capfd.readouterr().err == ""
    panics = [
        r.getMessage()
        for r in caplog.records
        if r.name == "signbridge" and r.levelno == logging.ERROR
    ]
    assert len(panics) == 2, panics
    assert "panic: test panic at the boundary" in panics[0]
    assert "panic: test panic in a task" in panics[1]


def test_a_rust_panic_is_an_internal_error() -> None:
    for in_task in (False, True):
        with pytest.raises(signbridge.InternalError, match="test panic") as bug:
            _native._panic_for_test(in_task)
        assert bug.value.code == 900
