"""The dataclasses against the core's JSON shapes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import signbridge
from signbridge import DownloadKind, Role, State, _native
from signbridge.types import Status


def test_download_kinds_match_the_core() -> None:
    assert [k.value for k in DownloadKind] == _native.DOWNLOAD_KINDS


def test_an_envelope_becomes_the_core_json() -> None:
    env = signbridge.Envelope(
        reference="R-1",
        title="Título",
        documents=[
            signbridge.Document.from_bytes("a.pdf", b"%PDF"),
            signbridge.Document.from_path("/tmp/contrato.pdf"),
        ],
        parties=[signbridge.Party(email="a@x.example", role=Role.OBSERVE)],
        deadline=datetime(2026, 12, 31, 20, 59, 59, tzinfo=timezone(timedelta(hours=-3))),
        reminder_days=2,
        provider_options={"tae": {"allow_reject": True}},
    )
    assert env.to_dict() == {
        "reference": "R-1",
        "title": "Título",
        "documents": [
            {"name": "a.pdf", "content_base64": "JVBERg=="},
            {"path": "/tmp/contrato.pdf"},
        ],
        "parties": [{"email": "a@x.example", "role": "observe"}],
        "sequential": False,
        "deadline": "2026-12-31T23:59:59Z",
        "reminder_days": 2,
        "provider_options": {"tae": {"allow_reject": True}},
    }
    assert signbridge.Document.from_dict(env.to_dict()["documents"][0]).content == b"%PDF"


def test_a_status_reads_nanosecond_timestamps() -> None:
    status = Status.from_dict(
        {
            "state": "partially_signed",
            "provider_status": "1",
            "parties": [
                {
                    "email": "a@x.example",
                    "name": None,
                    "role": None,
                    "state": "signed",
                    "acted_at": "2026-05-01T12:00:00.123456789Z",
                }
            ],
            "reason": None,
            "updated_at": "2026-05-01T12:00:01Z",
            "expires_at": None,
            "raw": {"status": 1},
        }
    )
    assert status.state is State.PARTIALLY_SIGNED and not status.state.is_terminal
    acted = status.parties[0].acted_at
    assert acted == datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert status.parties[0].role is None
    assert status.raw == {"status": 1}


def test_handles_are_values() -> None:
    a = signbridge.Handle("tae", "default", "42", reference="R")
    assert a == signbridge.Handle.parse(a.to_json())
    assert {a, signbridge.Handle("tae", "default", "42", reference="R")} == {a}
    assert str(a) == "tae:default:42"
    with pytest.raises(signbridge.ValidationError):
        signbridge.Handle.parse("tae::42")
