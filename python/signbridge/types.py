"""The provider-neutral model as dataclasses: what you send and what you get back.

They mirror the core's JSON shapes (snake_case, never a provider's wire names); ``to_dict`` and
``from_dict`` convert. Wherever the client takes an envelope or a handle, a plain dict of the
same shape (or its JSON text) works too.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from . import _native

__all__ = [
    "State",
    "PartyState",
    "Role",
    "EventKind",
    "DownloadKind",
    "CmsForm",
    "Document",
    "Party",
    "Message",
    "Envelope",
    "Handle",
    "PartyStatus",
    "Status",
    "Event",
    "Changes",
    "Outcome",
    "Reconciled",
    "IntentState",
    "Intent",
    "BudgetWindow",
    "EnvelopeRules",
    "SendCapability",
    "StatusCapability",
    "DownloadCapability",
    "WebhookCapability",
    "Capability",
]


class _StrEnum(str, enum.Enum):
    def __str__(self) -> str:
        return str(self.value)


class State(_StrEnum):
    """Where an envelope stands."""

    DRAFT = "draft"
    SENT = "sent"
    PARTIALLY_SIGNED = "partially_signed"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    #: A provider code outside the documented set; see ``Status.provider_status``.
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """No further change is expected."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {State.COMPLETED, State.REJECTED, State.CANCELLED, State.EXPIRED, State.FAILED}
)


class PartyState(_StrEnum):
    PENDING = "pending"
    SIGNED = "signed"
    REJECTED = "rejected"


class Role(_StrEnum):
    """What a party does with the documents."""

    SIGN = "sign"
    APPROVE = "approve"
    WITNESS = "witness"
    #: Receives copies; does not act.
    OBSERVE = "observe"


class EventKind(_StrEnum):
    STATE_CHANGED = "state_changed"
    PARTY_SIGNED = "party_signed"
    PARTY_REJECTED = "party_rejected"
    DOCUMENT_RECEIVED = "document_received"
    #: A received document's file is in the configured folder (raw: path, sha256, size).
    FILE_DOWNLOADED = "file_downloaded"
    #: A received document's link expired before its file was fetched: the sender must send it
    #: again (SINtegre: press "Enviar Tudo").
    LINK_EXPIRED = "link_expired"
    #: A received document's file will not be fetched (raw.reason says why).
    DOWNLOAD_FAILED = "download_failed"
    OTHER = "other"


class DownloadKind(_StrEnum):
    """Which file to download."""

    #: The file as sent.
    ORIGINAL = "original"
    #: The signed file, with the provider's signature report when it appends one.
    SIGNED = "signed"
    #: The signed file carrying a digital-certificate (ICP/PKI) signature.
    DIGITALLY_SIGNED = "digitally_signed"
    #: The signature report / evidence on its own.
    EVIDENCE = "evidence"
    #: Everything in one archive (zip).
    ARCHIVE = "archive"


class CmsForm(_StrEnum):
    """What a host signer is asked for: a CMS embedding the signed bytes, or not."""

    ATTACHED = "attached"
    DETACHED = "detached"


def _datetime_to_json(value: datetime) -> str:
    # A naive datetime is local time, as everywhere in Python.
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


_FRACTION = re.compile(r"\.(\d+)")


def _datetime_from_json(text: str) -> datetime:
    """RFC 3339 as the core writes it (``Z``, up to nanoseconds), for every Python ≥ 3.9."""
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def _optional_datetime(text: Optional[str]) -> Optional[datetime]:
    return _datetime_from_json(text) if text is not None else None


def _drop_none(values: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class Document:
    """One file of an envelope: give ``path`` (read when the envelope is sent) or ``content``.

    ``name`` is what the parties see, with its extension; it defaults to the file name of
    ``path``. ``media_type`` is guessed from the extension when absent. When a client sends or
    validates an :class:`Envelope`, ``content`` (bytes or bytearray) goes to signbridge as it
    is, without base64; ``to_dict`` writes it as ``content_base64``, the JSON form.
    """

    name: Optional[str] = None
    path: Optional[Union[str, "os.PathLike[str]"]] = None
    content: Optional[Union[bytes, bytearray]] = None
    media_type: Optional[str] = None

    @classmethod
    def from_path(cls, path: Union[str, "os.PathLike[str]"]) -> Document:
        return cls(path=path)

    @classmethod
    def from_bytes(cls, name: str, content: Union[bytes, bytearray]) -> Document:
        return cls(name=name, content=content)

    def to_dict(self) -> Dict[str, Any]:
        return _drop_none(
            {
                "name": self.name,
                "path": os.fspath(self.path) if self.path is not None else None,
                "content_base64": (
                    base64.b64encode(self.content).decode("ascii")
                    if self.content is not None
                    else None
                ),
                "media_type": self.media_type,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Document:
        content = data.get("content_base64")
        return cls(
            name=data.get("name"),
            path=data.get("path"),
            content=base64.b64decode(content) if content is not None else None,
            media_type=data.get("media_type"),
        )


@dataclass
class Party:
    """A person who signs, approves, witnesses or observes."""

    name: Optional[str] = None
    email: Optional[str] = None
    #: CPF/CNPJ (Brazil), BIN/IIN (Kazakhstan), INN (Russia), or a foreign id.
    tax_id: Optional[str] = None
    phone: Optional[str] = None
    role: Role = Role.SIGN
    #: Position in a sequential envelope (1 acts first).
    order: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return _drop_none(
            {
                "name": self.name,
                "email": self.email,
                "tax_id": self.tax_id,
                "phone": self.phone,
                "role": Role(self.role).value,
                "order": self.order,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Party:
        return cls(
            name=data.get("name"),
            email=data.get("email"),
            tax_id=data.get("tax_id"),
            phone=data.get("phone"),
            role=Role(data.get("role", "sign")),
            order=data.get("order"),
        )


@dataclass
class Message:
    """The e-mail the provider sends to the parties."""

    subject: Optional[str] = None
    body: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return _drop_none({"subject": self.subject, "body": self.body})


@dataclass
class Envelope:
    """One signing request: documents, the people who act on them, and how."""

    #: Your own id for this request (e.g. the ERP record key); carried in the handle.
    reference: str
    title: str
    documents: List[Document]
    parties: List[Party]
    message: Optional[Message] = None
    #: After this instant the parties can no longer act (a naive datetime is local time).
    deadline: Optional[datetime] = None
    #: Parties act one after the other, in ``order``.
    sequential: bool = False
    reminder_days: Optional[int] = None
    metadata: Dict[str, str] = field(default_factory=dict)
    #: Per-provider settings keyed by provider id: ``{"tae": {"allow_reject": False}}``.
    provider_options: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return self._dict(self.documents)

    def _dict(self, documents: List[Document]) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "reference": self.reference,
            "title": self.title,
            "documents": [d.to_dict() for d in documents],
            "parties": [p.to_dict() for p in self.parties],
            "sequential": self.sequential,
        }
        if self.message is not None:
            data["message"] = self.message.to_dict()
        if self.deadline is not None:
            data["deadline"] = _datetime_to_json(self.deadline)
        if self.reminder_days is not None:
            data["reminder_days"] = self.reminder_days
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        if self.provider_options:
            data["provider_options"] = dict(self.provider_options)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def _split(
        self,
    ) -> Tuple[str, List[Tuple[int, Optional[str], Optional[str], Union[bytes, bytearray]]]]:
        """The JSON without the documents held in memory, and those documents as (position,
        name, media type, bytes): what the native client takes, so the bytes cross as they
        are rather than as base64."""
        data = self._dict([d for d in self.documents if d.content is None])
        in_memory = [
            (i, d.name, d.media_type, d.content)
            for i, d in enumerate(self.documents)
            if d.content is not None
        ]
        return json.dumps(data, ensure_ascii=False), in_memory


@dataclass(frozen=True)
class Handle:
    """What to store to refer to a sent envelope later. ``str(handle)`` is the compact
    ``provider:account:id`` form; :meth:`parse` reads it back, or the JSON form."""

    provider: str
    account: str
    #: The provider's id for the document.
    id: str
    reference: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.provider}:{self.account}:{self.id}"

    def to_dict(self) -> Dict[str, Any]:
        return _drop_none(
            {
                "provider": self.provider,
                "account": self.account,
                "id": self.id,
                "reference": self.reference,
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Handle:
        return cls(
            provider=data["provider"],
            account=data["account"],
            id=data["id"],
            reference=data.get("reference"),
        )

    @classmethod
    def parse(cls, text: str) -> Handle:
        """A handle from its JSON or its compact form; ValidationError if it is neither."""
        return cls.from_dict(json.loads(_native.parse_handle(text)))


@dataclass
class PartyStatus:
    """Where one party stands."""

    state: PartyState
    email: Optional[str] = None
    name: Optional[str] = None
    #: None when the provider's action code is not one the model knows.
    role: Optional[Role] = None
    acted_at: Optional[datetime] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartyStatus:
        role = data.get("role")
        return cls(
            state=PartyState(data["state"]),
            email=data.get("email"),
            name=data.get("name"),
            role=Role(role) if role is not None else None,
            acted_at=_optional_datetime(data.get("acted_at")),
        )


@dataclass
class Status:
    """The status of one envelope."""

    state: State
    #: The provider's own status code or label, exactly as received.
    provider_status: str
    parties: List[PartyStatus]
    #: Why it was rejected or failed, in the provider's words.
    reason: Optional[str] = None
    updated_at: Optional[datetime] = None
    expires_at: Optional[datetime] = None
    #: The provider's response, for what the model does not carry.
    raw: Any = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Status:
        return cls(
            state=State(data["state"]),
            provider_status=data["provider_status"],
            parties=[PartyStatus.from_dict(p) for p in data.get("parties", [])],
            reason=data.get("reason"),
            updated_at=_optional_datetime(data.get("updated_at")),
            expires_at=_optional_datetime(data.get("expires_at")),
            raw=data.get("raw"),
        )


@dataclass
class Event:
    """Something that happened to an envelope, seen by ``status`` or ``refresh`` or pushed by
    a webhook. ``id`` is stable across deliveries, so duplicates can be dropped. An event
    comes again (after a restart) until it is acknowledged with :meth:`ack`."""

    id: str
    handle: Handle
    kind: EventKind
    at: datetime
    raw: Any = None
    _ack: Optional[Callable[[str], bool]] = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], ack: Optional[Callable[[str], bool]] = None
    ) -> Event:
        return cls(
            id=data["id"],
            handle=Handle.from_dict(data["handle"]),
            kind=EventKind(data["kind"]),
            at=_datetime_from_json(data["at"]),
            raw=data.get("raw"),
            _ack=ack,
        )

    def ack(self) -> bool:
        """Acknowledges the event where it came from (the host has taken it): True if
        acknowledged now, False if it was before. Blocking, also for an ``AsyncClient``'s
        events (a short journal write)."""
        if self._ack is None:
            raise RuntimeError("this event was not handed out by a client or a receiver")
        return self._ack(self.id)


@dataclass
class Changes:
    """What ``Client.changes`` returns: the events since the cursor it was given, and the
    cursor to pass next time (None when the provider gave none)."""

    events: List[Event]
    cursor: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Changes:
        return cls(
            events=[Event.from_dict(e) for e in data["events"]],
            cursor=data.get("cursor"),
        )


@dataclass
class ReplayedEvent:
    """One event as ``Client.replay`` returns it: its ``position`` in the stream (pass the
    last one as the next replay's ``since``), when it was committed, and when it was
    acknowledged (None: still pending). Replaying acknowledges nothing."""

    position: int
    committed_at: datetime
    acked_at: Optional[datetime]
    event: Event

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplayedEvent:
        return cls(
            position=data["position"],
            committed_at=_datetime_from_json(data["committed_at"]),
            acked_at=_optional_datetime(data.get("acked_at")),
            event=Event.from_dict(data["event"]),
        )


class Outcome(_StrEnum):
    """What became of a send, as ``Client.reconcile`` and ``Client.resolve`` found it."""

    #: The document was sent: ``handle`` is its handle (later sends of the reference return it).
    SENT = "sent"
    #: Created but never sent: send the same envelope again to finish it.
    DRAFT = "draft"
    #: Nothing was created: sending again is safe.
    NOT_SENT = "not_sent"
    #: The provider cannot tell (ArqSign has no lookup) or another sender holds the reference:
    #: settle it with ``Client.resolve``.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reconciled:
    """The outcome of the send of ``reference`` (see :class:`Outcome`)."""

    outcome: Outcome
    reference: str
    #: Set when ``SENT`` or ``DRAFT``.
    handle: Optional[Handle] = None
    #: Why it is still ``UNKNOWN``.
    reason: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reconciled:
        handle = data.get("handle")
        return cls(
            outcome=Outcome(data["outcome"]),
            reference=data["reference"],
            handle=Handle.from_dict(handle) if handle is not None else None,
            reason=data.get("reason"),
        )


class IntentState(_StrEnum):
    """Where a send stands in the journal."""

    #: A sender holds it (or held it and died): it may have written.
    PENDING = "pending"
    #: A write's outcome is not known: reconcile before sending again.
    UNKNOWN = "unknown"
    SENT = "sent"
    NOT_SENT = "not_sent"


@dataclass(frozen=True)
class Intent:
    """What the journal holds about one send (``Client.pending`` lists the unfinished ones)."""

    provider: str
    account: str
    reference: str
    state: IntentState
    #: The provider's ids recorded so far (e.g. ``{"document_id": "42"}``).
    ids: Dict[str, str]
    #: The steps completed, in order (e.g. ``["uploaded", "published"]``).
    steps: List[str]
    handle: Optional[Handle]
    #: Why the last attempt ended unknown or not sent.
    reason: Optional[str]
    attempts: int
    created_at: datetime
    updated_at: datetime
    #: Until when a live sender holds it.
    lease_until: Optional[datetime] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Intent:
        handle = data.get("handle")
        return cls(
            provider=data["provider"],
            account=data["account"],
            reference=data["reference"],
            state=IntentState(data["state"]),
            ids=dict(data.get("ids") or {}),
            steps=[step["name"] for step in data.get("steps") or []],
            handle=Handle.from_dict(handle) if handle is not None else None,
            reason=data.get("reason"),
            attempts=data["attempts"],
            created_at=_datetime_from_json(data["created_at"]),
            updated_at=_datetime_from_json(data["updated_at"]),
            lease_until=_optional_datetime(data.get("lease_until")),
        )


@dataclass(frozen=True)
class BudgetWindow:
    """One of the account's rate windows (``Client.budget``), counted in the journal: shared by
    every process using the account and kept across restarts."""

    #: ``"second"``, ``"minute"``, ``"hour"``, ``"day"``, ``"month"`` (calendar, UTC) or
    #: ``"<n>ms"``.
    period: str
    limit: int
    used: int
    remaining: int
    #: When the next unit frees up (None while nothing is used).
    frees_at: Optional[datetime] = None
    #: What the window counts: ``"calls"``, or ``"logins"`` (SBIS' login calls, limited apart).
    scope: str = "calls"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetWindow:
        return cls(
            scope=data.get("scope", "calls"),
            period=data["period"],
            limit=data["limit"],
            used=data["used"],
            remaining=data["remaining"],
            frees_at=_optional_datetime(data.get("frees_at")),
        )


@dataclass(frozen=True)
class EnvelopeRules:
    """What an envelope must meet for a provider, checked before any request. None: no limit."""

    max_documents: Optional[int]
    max_document_bytes: Optional[int]
    #: Allowed file extensions (lowercase, without the dot); None allows any.
    document_extensions: Optional[Tuple[str, ...]]
    #: Every party needs an e-mail address.
    party_email_required: bool
    max_title_chars: Optional[int]

    def to_dict(self) -> Dict[str, Any]:
        extensions = self.document_extensions
        return {
            "max_documents": self.max_documents,
            "max_document_bytes": self.max_document_bytes,
            "document_extensions": list(extensions) if extensions is not None else None,
            "party_email_required": self.party_email_required,
            "max_title_chars": self.max_title_chars,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvelopeRules:
        extensions = data["document_extensions"]
        return cls(
            max_documents=data["max_documents"],
            max_document_bytes=data["max_document_bytes"],
            document_extensions=tuple(extensions) if extensions is not None else None,
            party_email_required=data["party_email_required"],
            max_title_chars=data["max_title_chars"],
        )


@dataclass(frozen=True)
class SendCapability:
    #: The host signs during ``send``, through its host signer (see ``set_host_signer``).
    host_signature: bool
    #: Parties can be made to act one after the other (``Envelope.sequential``).
    sequential: bool
    envelope: EnvelopeRules

    def to_dict(self) -> Dict[str, Any]:
        return {
            "host_signature": self.host_signature,
            "sequential": self.sequential,
            "envelope": self.envelope.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SendCapability:
        return cls(
            host_signature=data["host_signature"],
            sequential=data["sequential"],
            envelope=EnvelopeRules.from_dict(data["envelope"]),
        )


@dataclass(frozen=True)
class StatusCapability:
    #: One request lists many statuses, so a batch refresh needs fewer requests than handles.
    batch: bool

    def to_dict(self) -> Dict[str, Any]:
        return {"batch": self.batch}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatusCapability:
        return cls(batch=data["batch"])


@dataclass(frozen=True)
class DownloadCapability:
    #: The kinds ``download`` can fetch.
    kinds: Tuple[DownloadKind, ...]

    def to_dict(self) -> Dict[str, Any]:
        return {"kinds": [k.value for k in self.kinds]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DownloadCapability:
        return cls(kinds=tuple(DownloadKind(k) for k in data["kinds"]))


@dataclass(frozen=True)
class WebhookCapability:
    #: The webhook source (a ``Receiver`` route's ``source``) whose deliveries for the account
    #: join its events; None: the provider pushes nothing.
    source: Optional[str]

    def to_dict(self) -> Dict[str, Any]:
        return {"source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookCapability:
        return cls(source=data["source"])


@dataclass(frozen=True)
class Capability:
    """What a provider can do, grouped by operation: ``Client.capability``, or
    ``signbridge.capabilities()`` without a client. Every call checks it before any request
    (an operation it lacks raises UnsupportedError). ``to_dict`` gives the JSON that the C ABI
    (``signbridge_capability``) and the CLI (``signbridge capabilities``) give."""

    provider: str
    send: SendCapability
    status: StatusCapability
    download: DownloadCapability
    #: ``cancel`` withdraws a sent envelope.
    cancel: bool
    #: ``changes(cursor)`` lists events since a cursor.
    changes: bool
    #: The provider pushes changes to a receiver.
    webhooks: WebhookCapability
    #: The provider's own operations, reachable through ``Client.call(name, args)``.
    calls: Tuple[str, ...]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "provider": self.provider,
            "send": self.send.to_dict(),
            "status": self.status.to_dict(),
            "download": self.download.to_dict(),
            "cancel": self.cancel,
            "changes": self.changes,
            "webhooks": self.webhooks.to_dict(),
            "calls": list(self.calls),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Capability:
        return cls(
            provider=data["provider"],
            send=SendCapability.from_dict(data["send"]),
            status=StatusCapability.from_dict(data["status"]),
            download=DownloadCapability.from_dict(data["download"]),
            cancel=data["cancel"],
            changes=data["changes"],
            webhooks=WebhookCapability.from_dict(data["webhooks"]),
            calls=tuple(data["calls"]),
        )
