"""What the Python package shares with the C ABI and the CLI through signbridge's core: handles
with bare ids, envelopes read with the same validation errors, refresh rows, the capability
record (the same JSON in C, the CLI and Python), validate, call, changes and the forced refresh;
documents held in memory crossing as bytes; and the checks at the Python surface."""

from __future__ import annotations

import asyncio
import base64
import ctypes
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional, Type

import pytest
from sandbox_helpers import config as example_config
from support import FAST_TRANSPORT, Sandbox, envelope, idocs_config, idocs_envelope, sample_pdf

import signbridge
from signbridge import Capability, CmsForm, Document, DownloadKind, State, _native


def test_bare_ids_are_handles_of_the_clients_account(client: signbridge.Client) -> None:
    handle = client.send(envelope("HOST-BARE"))
    assert client.status(handle.id).state is State.SENT
    assert client.status(f" {handle.id} ").state is State.SENT
    assert client.status(f"tae:test:{handle.id}").state is State.SENT
    with pytest.raises(signbridge.ValidationError, match="belongs to tae:outra") as foreign:
        client.status(f"tae:outra:{handle.id}")
    assert foreign.value.field == "handle"
    with pytest.raises(signbridge.ValidationError, match="line 1 column") as malformed:
        client.status('{"provider":')
    assert malformed.value.field == "handle"


def test_a_bad_envelope_names_the_field_or_the_position(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    with pytest.raises(signbridge.ValidationError) as malformed:
        client.send('{"reference":\n"r",,}')
    assert malformed.value.field == "envelope"
    assert str(malformed.value).startswith("envelope: not valid JSON at line 2 column 5")
    with pytest.raises(signbridge.ValidationError) as typed:
        client.validate({"reference": "r", "title": "t", "parties": [{"email": 7}]})
    assert typed.value.field == "parties[0].email"
    duplicate = envelope("HOST-VALIDATE")
    duplicate.parties[1].email = duplicate.parties[0].email
    with pytest.raises(signbridge.ValidationError) as twice:
        client.validate(duplicate)
    assert twice.value.field == "parties[1].email"
    client.validate(envelope("HOST-VALIDATE"))
    assert sandbox.requests() == [], "validate sends nothing"


def test_in_memory_documents_cross_as_bytes(
    sandbox: Sandbox, client: signbridge.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = sample_pdf("Contrato", 1)
    annex = tmp_path / "anexo.pdf"
    annex.write_bytes(sample_pdf("Anexo", 1))
    env = envelope("HOST-BYTES")
    env.documents = [
        Document.from_path(annex),
        Document.from_bytes("contrato.pdf", pdf),
        Document(name="planilha.pdf", content=bytearray(pdf)),
        Document.from_bytes("vazio.pdf", b""),
    ]
    text, in_memory = env._split()
    assert "content_base64" not in text
    assert [(i, name) for i, name, _, _ in in_memory] == [
        (1, "contrato.pdf"),
        (2, "planilha.pdf"),
        (3, "vazio.pdf"),
    ]
    assert in_memory[0][3] is pdf, "the host's bytes object itself goes to the native layer"

    def no_base64(data: bytes) -> NoReturn:
        raise AssertionError("an in-memory document was base64-encoded")

    monkeypatch.setattr(base64, "b64encode", no_base64)
    # Each document keeps its place: the empty one is named where the host put it.
    with pytest.raises(signbridge.ValidationError) as empty:
        client.validate(env)
    assert empty.value.field == "documents[3].content"
    nameless = envelope("HOST-BYTES")
    nameless.documents = [Document(content=pdf)]
    with pytest.raises(signbridge.ValidationError) as unnamed:
        client.validate(nameless)
    assert unnamed.value.field == "documents[0].name"
    assert sandbox.requests() == []

    env.documents = [Document.from_bytes("contrato.pdf", pdf)]
    handle = client.send(env)
    assert client.download(handle, DownloadKind.ORIGINAL) == pdf


def test_refresh_takes_an_iterable_of_handles(client: signbridge.Client) -> None:
    handle = client.send(envelope("HOST-REFRESH"))
    singles: List[Any] = [handle.id, str(handle), handle, handle.to_dict(), handle.id.encode()]
    for single in singles:
        with pytest.raises(TypeError, match="iterable of handles"):
            client.refresh(single)
    with pytest.raises(signbridge.ValidationError) as bad:
        client.refresh([handle, "tae::1"])
    assert bad.value.field == "handles[1]"
    [status] = client.refresh(h for h in [handle.id])
    assert isinstance(status, signbridge.Status) and status.state is State.SENT


def test_a_forced_refresh_asks_a_sparingly_polled_provider_again(sandbox: Sandbox) -> None:
    config = example_config("arqsign", sandbox.url)
    config["transport"] = FAST_TRANSPORT
    with signbridge.Client(config) as client:
        handle = client.send(envelope("HOST-FORCE"))

        def polls() -> int:
            return sandbox.count("GET", f"processo/{handle.id}/status-do-processo")

        client.refresh([handle])
        first = polls()
        assert first >= 1
        [cached] = client.refresh([handle])
        assert isinstance(cached, signbridge.Status) and polls() == first
        [fresh] = client.refresh([handle], force=True)
        assert isinstance(fresh, signbridge.Status) and polls() > first


def test_a_host_signer_must_be_callable(client: signbridge.Client) -> None:
    not_a_signer: Any = 123
    with pytest.raises(TypeError, match="callable or a SoftwareSigner, not int"):
        client.set_host_signer(not_a_signer)


@pytest.mark.parametrize("escape", [KeyboardInterrupt, SystemExit])
def test_what_the_host_signer_raises_beyond_exception_propagates_as_itself(
    sandbox: Sandbox, escape: Type[BaseException]
) -> None:
    raised = escape("from the host signer")

    def interrupted(data: bytes, form: CmsForm) -> bytes:
        raise raised

    def failing(data: bytes, form: CmsForm) -> bytes:
        raise RuntimeError("PIN bloqueado")

    with signbridge.Client(idocs_config(sandbox)) as client:
        client.set_host_signer(interrupted)
        with pytest.raises(escape) as caught:
            client.send(idocs_envelope("PY-IDOCS-ESCAPE"))
        assert caught.value is raised
        # Taken by that send: the next failure is the signer's own again.
        client.set_host_signer(failing)
        with pytest.raises(signbridge.SigningError, match="PIN bloqueado"):
            client.send(idocs_envelope("PY-IDOCS-ESCAPE-2"))


def test_capabilities_are_typed_and_lose_nothing(client: signbridge.Client) -> None:
    records = json.loads(_native.capabilities())
    assert {r["provider"] for r in records} >= {"tae", "arqsign", "idocs"}
    for record in records:
        typed = Capability.from_dict(record)
        assert typed.to_dict() == record, "a field of the record is missing from Capability"
        assert signbridge.capabilities(record["provider"]) == typed
    assert signbridge.capabilities() == [Capability.from_dict(r) for r in records]
    assert client.capability == signbridge.capabilities("tae")
    idocs = signbridge.capabilities("idocs")
    assert idocs.send.host_signature and "inbox" in idocs.calls
    assert idocs.download.kinds == (DownloadKind.SIGNED, DownloadKind.ARCHIVE)
    with pytest.raises(signbridge.ValidationError, match="unknown provider") as unknown:
        signbridge.capabilities("sbiss")
    assert unknown.value.field == "provider"


def _cli(*args: str) -> Any:
    binary = os.environ.get("SIGNBRIDGE_BIN") or shutil.which("signbridge")
    assert binary, "no CLI: set SIGNBRIDGE_BIN to target/debug/signbridge"
    env = {k: v for k, v in os.environ.items() if k != "SIGNBRIDGE_CONFIG"}
    done = subprocess.run(
        [binary, *args], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return json.loads(done.stdout)


def _c_capabilities(provider: Optional[str]) -> Any:
    """`signbridge_capabilities` of the C library built beside the CLI (target/debug)."""
    binary = os.environ.get("SIGNBRIDGE_BIN") or shutil.which("signbridge")
    assert binary, "no CLI: set SIGNBRIDGE_BIN to target/debug/signbridge"
    path = Path(binary).resolve().parent / "libsignbridge.so"
    assert path.exists(), f"no C library at {path}: cargo build -p signbridge-ffi"
    lib = ctypes.CDLL(str(path))
    lib.signbridge_capabilities.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.signbridge_capabilities.restype = ctypes.c_int32
    lib.signbridge_string_free.argtypes = [ctypes.c_void_p]
    lib.signbridge_string_free.restype = None
    out = ctypes.c_void_p()
    argument = provider.encode() if provider is not None else None
    assert lib.signbridge_capabilities(argument, ctypes.byref(out)) == 0
    assert out.value is not None
    try:
        return json.loads(ctypes.string_at(out.value).decode())
    finally:
        lib.signbridge_string_free(out)


def test_c_the_cli_and_python_give_the_same_capability_json() -> None:
    python: Dict[Optional[str], Any] = {None: json.loads(_native.capabilities())}
    for record in python[None]:
        python[record["provider"]] = json.loads(_native.capabilities(record["provider"]))
    for provider, expected in python.items():
        args = ["capabilities"] + (["--provider", provider] if provider is not None else [])
        cli = _cli(*args)
        assert cli == expected, f"CLI and Python differ for {provider or 'every provider'}"
        assert _c_capabilities(provider) == expected, f"C and Python differ for {provider}"


def test_calls_and_changes(sandbox: Sandbox, client: signbridge.Client) -> None:
    with pytest.raises(signbridge.UnsupportedError, match="tae does not support users"):
        client.call("users")
    with pytest.raises(signbridge.UnsupportedError, match="tae does not support changes"):
        client.changes()
    with signbridge.Client(idocs_config(sandbox)) as idocs:
        page = idocs.call("inbox")
        assert idocs.call("inbox", {"skip": 0, "top": 10}) == page
        assert sandbox.count("POST", "documents-query/inbox") == 2
        with pytest.raises(signbridge.UnsupportedError):
            idocs.changes("cursor-1")


def test_the_async_client_has_them_too(sandbox: Sandbox) -> None:
    async def flow() -> None:
        async with signbridge.AsyncClient(sandbox.config()) as client:
            assert client.capability.provider == "tae"
            await client.validate(envelope("HOST-ASYNC"))
            with pytest.raises(signbridge.ValidationError) as bad:
                await client.validate('{"reference":')
            assert bad.value.field == "envelope"
            handle = await client.send(envelope("HOST-ASYNC"))
            [status] = await client.refresh([handle.id], force=True)
            assert isinstance(status, signbridge.Status) and status.state is State.SENT
            with pytest.raises(TypeError):
                await client.refresh(handle.id)
            with pytest.raises(signbridge.UnsupportedError):
                await client.call("users", {"ids": []})
            with pytest.raises(signbridge.UnsupportedError):
                await client.changes()

    asyncio.run(flow())
