"""``Client`` (blocking) and ``AsyncClient`` (asyncio) over the native client."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    Type,
    Union,
    overload,
)

from . import _native
from .errors import SignbridgeError, _from_json
from .types import (
    BudgetWindow,
    Capability,
    Changes,
    CmsForm,
    DownloadKind,
    Envelope,
    Event,
    Handle,
    Intent,
    Reconciled,
    ReplayedEvent,
    Status,
)

if TYPE_CHECKING:
    import asyncio

__all__ = ["Client", "AsyncClient", "HostSigner", "capabilities"]

#: A handle, its dict, or its text: JSON, ``provider:account:id``, or a bare id of the
#: client's account (``"12978325"``).
HandleLike = Union[Handle, Mapping[str, Any], str]
#: An envelope, its dict, or its JSON text. An :class:`Envelope`'s in-memory documents
#: (``Document.from_bytes``) reach signbridge as bytes; a dict or JSON carries them as
#: ``content_base64``.
EnvelopeLike = Union[Envelope, Mapping[str, Any], str]
#: The client configuration, as a dict or JSON text (see the README).
ConfigLike = Union[Mapping[str, Any], str]
StrPath = Union[str, "os.PathLike[str]"]
#: Signs ``data`` for providers that need a signature only the host can make; returns a
#: DER-encoded CMS ``ContentInfo``, embedding ``data`` when asked for ``CmsForm.ATTACHED``.
#: It runs on a signbridge thread; raising makes the operation fail with ``SigningError``.
#: :class:`SoftwareSigner` is one too, signing with a key file.
HostSigner = Callable[[bytes, CmsForm], bytes]


def _config_json(config: ConfigLike) -> str:
    return config if isinstance(config, str) else json.dumps(dict(config))


_InMemory = List[Tuple[int, Optional[str], Optional[str], Union[bytes, bytearray]]]


def _envelope_args(envelope: EnvelopeLike) -> Tuple[str, _InMemory]:
    """The envelope's JSON and, for an :class:`Envelope`, its in-memory documents apart."""
    if isinstance(envelope, Envelope):
        return envelope._split()
    if isinstance(envelope, str):
        return envelope, []
    return json.dumps(dict(envelope), ensure_ascii=False), []


def _handle_text(handle: HandleLike) -> str:
    if isinstance(handle, Handle):
        return handle.to_json()
    if isinstance(handle, str):
        return handle
    return json.dumps(dict(handle), ensure_ascii=False)


def _status(json_text: str) -> Status:
    return Status.from_dict(json.loads(json_text))


def _event(
    json_text: Optional[str], ack: Optional[Callable[[str], bool]] = None
) -> Optional[Event]:
    return Event.from_dict(json.loads(json_text), ack) if json_text is not None else None


class _EventSource(Protocol):
    """The native side of an event stream: a client's, a receiver's or a listener's."""

    def next_event(self, timeout: Optional[float] = None) -> Optional[str]: ...
    def next_event_async(self, timeout: Optional[float] = None) -> asyncio.Future[Optional[str]]: ...
    def ack_event(self, id: str) -> bool: ...
    def ack_event_async(self, id: str) -> asyncio.Future[bool]: ...


class _HasEventSource(Protocol):
    """What the event calls need of the object they are on: its native event stream."""

    @property
    def _native(self) -> _EventSource: ...


class _Events:
    """The event stream's calls, the same on Client, Receiver and Listener."""

    def next_event(self: _HasEventSource, timeout: Optional[float] = None) -> Optional[Event]:
        """The oldest event not yet taken: a client's are its account's (changes seen by
        ``status``/``refresh``, webhook deliveries a receiver kept on the same journal); a
        receiver's or listener's are its routes' and their downloads'. Waits up to ``timeout``
        seconds (None: until one arrives); None if none came. The event comes again after a
        restart until acknowledged (``event.ack()``)."""
        return _event(self._native.next_event(timeout), self._native.ack_event)

    def ack_event(self: _HasEventSource, event_id: str) -> bool:
        """Acknowledges the event ``event_id``: True if acknowledged now, False if it was
        before; NotFound for an id the journal never had."""
        return self._native.ack_event(event_id)

    def events(self: _HasEventSource, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events as they come. With a ``timeout``, the iteration ends once no
        event arrived for that many seconds; without, it waits for more forever."""
        while True:
            event = _Events.next_event(self, timeout)
            if event is None:
                return
            yield event


class _AsyncEvents:
    """:class:`_Events` as coroutines, run on signbridge's threads so awaiting never blocks
    the event loop."""

    async def next_event(
        self: _HasEventSource, timeout: Optional[float] = None
    ) -> Optional[Event]:
        """See :meth:`Client.next_event`."""
        return _event(await self._native.next_event_async(timeout), self._native.ack_event)

    async def ack_event(self: _HasEventSource, event_id: str) -> bool:
        """See :meth:`Client.ack_event`."""
        return await self._native.ack_event_async(event_id)

    async def events(
        self: _HasEventSource, timeout: Optional[float] = None
    ) -> AsyncIterator[Event]:
        """See :meth:`Client.events`; ``async for event in client.events(1.0): ...``."""
        while True:
            event = await _AsyncEvents.next_event(self, timeout)
            if event is None:
                return
            yield event


#: Where a replay starts: a stream position (events after it; 0 is the beginning), an
#: aware ``datetime`` or an RFC 3339 text (events committed at or after it).
SinceLike = Union[int, datetime, str]


def _since_text(since: SinceLike) -> str:
    if isinstance(since, bool):
        raise TypeError("since: a position (int), a datetime or an RFC 3339 text, not a bool")
    if isinstance(since, int):
        return str(since)
    if isinstance(since, datetime):
        if since.tzinfo is None:
            raise ValueError("since: a naive datetime says no time zone; give an aware one")
        return since.isoformat()
    return since


def _replayed(json_text: str) -> List[ReplayedEvent]:
    return [ReplayedEvent.from_dict(e) for e in json.loads(json_text)]


def _handle_texts(handles: Iterable[HandleLike]) -> List[str]:
    # A str is iterable too (of one-character "handles"), and so are a dict (of its keys) and
    # bytes: each is one handle, or a mistake, never a batch.
    if isinstance(handles, (str, bytes, bytearray, Mapping, Handle)):
        raise TypeError(
            f"handles must be an iterable of handles, not {type(handles).__name__}: "
            "wrap a single handle in a list"
        )
    return [_handle_text(h) for h in handles]


def _rows(json_text: str) -> List[Union[Status, SignbridgeError]]:
    """The refresh rows (``{"handle", "status"}`` or ``{"handle", "error"}``, as C and the CLI
    give them) as a Status or the exception of that handle's failure each."""
    return [
        Status.from_dict(row["status"]) if "status" in row else _from_json(row["error"])
        for row in json.loads(json_text)
    ]


def _reconciled(json_text: str) -> Reconciled:
    return Reconciled.from_dict(json.loads(json_text))


def _reconciled_rows(json_text: str) -> List[Union[Reconciled, SignbridgeError]]:
    """Every unfinished send's outcome, or the exception of its failure (``{"reference",
    "error"}``), as C and the CLI give them."""
    return [
        _from_json(row["error"]) if "error" in row else Reconciled.from_dict(row)
        for row in json.loads(json_text)
    ]


def _resolution(sent_as: Optional[str], not_sent: bool) -> str:
    # Core checks it too (exactly one); a TypeError here names the Python arguments.
    if (sent_as is None) == (not not_sent):
        raise TypeError("give exactly one of sent_as=<the provider's id> or not_sent=True")
    return json.dumps({"sent_as": sent_as} if sent_as is not None else {"not_sent": True})


def _pending(json_text: str) -> List[Intent]:
    return [Intent.from_dict(row) for row in json.loads(json_text)]


def _budget(json_text: str) -> List[BudgetWindow]:
    return [BudgetWindow.from_dict(row) for row in json.loads(json_text)]


def _call_args(args: Any) -> Optional[str]:
    return json.dumps(args, ensure_ascii=False) if args is not None else None


@overload
def capabilities(provider: None = None) -> List[Capability]: ...


@overload
def capabilities(provider: str) -> Capability: ...


def capabilities(provider: Optional[str] = None) -> Union[Capability, List[Capability]]:
    """What ``provider`` (an id such as ``"arqsign"``) can do, or, without one, every provider's
    record; no client needed. ValidationError for an unknown id. ``to_dict()`` of each is the
    JSON the C ABI and the CLI give."""
    data = json.loads(_native.capabilities(provider))
    if provider is None:
        return [Capability.from_dict(record) for record in data]
    return Capability.from_dict(data)


class _Base:
    def __init__(self, config: ConfigLike) -> None:
        """Builds a client for one provider account. ``config`` is the core's ClientConfig
        (``provider``, ``account``, ``settings``, ``transport``); environment variables
        ``SIGNBRIDGE_<PROVIDER>_<NAME>`` set ``settings.<name>`` (e.g. the password).
        Raises ConfigError when it is incomplete or invalid."""
        self._native = _native.NativeClient(_config_json(config))
        # What a Python host signer raised that is not an Exception (KeyboardInterrupt,
        # SystemExit): the failed send raises it in place of the SigningError.
        self._escaped: List[BaseException] = []

    @property
    def provider(self) -> str:
        return self._native.provider

    @property
    def account(self) -> str:
        return self._native.account

    @property
    def closed(self) -> bool:
        return self._native.closed

    @property
    def capability(self) -> Capability:
        """What this client's provider can do (see :class:`Capability`)."""
        return Capability.from_dict(json.loads(self._native.capability()))

    def set_host_signer(self, signer: Optional[HostSigner]) -> None:
        """Sets, or with None removes, the host signer: a :class:`SoftwareSigner`, which signs
        inside signbridge without calling Python, or any :data:`HostSigner` callable.

        An Exception the signer raises fails the send with SigningError (its message as the
        provider message); KeyboardInterrupt and SystemExit propagate out of the send as
        themselves. TypeError if ``signer`` is not callable."""
        if signer is None or isinstance(signer, _native.SoftwareSigner):
            self._native.set_host_signer(signer)
            return
        if not callable(signer):
            raise TypeError(
                f"the host signer must be callable or a SoftwareSigner, not {type(signer).__name__}"
            )
        escaped = self._escaped

        def sign(data: bytes, form: str) -> bytes:
            try:
                return signer(data, CmsForm(form))
            except Exception:
                raise
            except BaseException as e:
                escaped.append(e)
                raise

        self._native.set_host_signer(sign)

    def _raise_escaped(self) -> None:
        """Raises what the host signer raised that is not an Exception, if it did: called as a
        send fails. With several sends signing at once on one client, the first to fail takes
        it; either way it leaves the call."""
        if self._escaped:
            raise self._escaped.pop(0) from None

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<{type(self).__name__} {self.provider}:{self.account}{state}>"


class Client(_Base, _Events):
    """One provider account, blocking calls. Thread-safe: share one client between threads.

    Every call releases the GIL while it waits and can be interrupted with Ctrl-C. Use it as
    a context manager, or call :meth:`close`, to release its connections.
    """

    def send(self, envelope: EnvelopeLike, new_document: bool = False) -> Handle:
        """Validates the envelope, creates it at the provider and sends it to the parties,
        exactly once per ``reference``: a reference already sent returns its handle with no
        request; another envelope under it raises ValidationError (``field`` "reference")
        unless ``new_document`` asks for a new document explicitly.

        Raises ValidationError (naming the ``field``, or the line and column of malformed
        JSON) before any request when the envelope is wrong, ConflictError while another
        sender holds the reference, and OutcomeUnknown when a write's answer was lost
        (``handle`` set when the document exists): then :meth:`reconcile` tells what became
        of it."""
        try:
            handle = self._native.send(*_envelope_args(envelope), new_document=new_document)
        except SignbridgeError:
            self._raise_escaped()
            raise
        return Handle.from_dict(json.loads(handle))

    def reconcile(self, reference: str) -> Reconciled:
        """What became of the send of ``reference`` (a lost answer, a crashed process), asking
        the provider where it can look the document up; see :class:`Outcome`. NotFoundError
        when the journal never saw the reference."""
        return _reconciled(self._native.reconcile(reference))

    def reconcile_pending(self) -> List[Union[Reconciled, SignbridgeError]]:
        """:meth:`reconcile` of every unfinished send (at most 1000, oldest first): each entry
        its outcome, or the exception of its failure (one failure never stops the rest)."""
        return _reconciled_rows(self._native.reconcile(None))

    def pending(self) -> List[Intent]:
        """The account's sends not known to have ended (at most 1000, oldest first)."""
        return _pending(self._native.pending())

    def resolve(
        self, reference: str, *, sent_as: Optional[str] = None, not_sent: bool = False
    ) -> Reconciled:
        """Settles by your word a send the provider cannot reconcile: ``sent_as`` the
        provider's id of the document you found (later sends return its handle), or
        ``not_sent=True`` (the reference may be sent again). TypeError unless exactly one is
        given; ConflictError if the reference is already sent."""
        return _reconciled(self._native.resolve(reference, _resolution(sent_as, not_sent)))

    def budget(self) -> List[BudgetWindow]:
        """What is left of the account's rate windows (empty when the provider's contract
        gives none), as every process using the account sees it."""
        return _budget(self._native.budget())

    def validate(self, envelope: EnvelopeLike) -> None:
        """Every check :meth:`send` makes before its first request; sends nothing. Raises
        ValidationError, UnsupportedError or SigningError (no host signer) as send would."""
        self._native.validate(*_envelope_args(envelope))

    def status(self, handle: HandleLike) -> Status:
        return _status(self._native.status(_handle_text(handle)))

    def refresh(
        self, handles: Iterable[HandleLike], force: bool = False
    ) -> List[Union[Status, SignbridgeError]]:
        """The status of many envelopes, in input order: each entry a Status, or the exception
        of that handle's failure (one failure never fails the batch; a handle that does not
        parse fails the call, naming it). Providers that ask to be polled sparingly (ArqSign)
        answer from a recent reading unless ``force``. TypeError for a single handle (a str
        is not a batch)."""
        return _rows(self._native.refresh(_handle_texts(handles), force))

    def call(self, name: str, args: Any = None) -> Any:
        """A provider's own operation, one of ``capability.calls`` (ArqSign ``users``,
        ``folders``, ``resend``, ``signer_data``; iDocs ``inbox``, ``bulk``; both
        ``webhook_subscribe``, registering a receiver's URL), with ``args`` (anything JSON can
        carry; None: none); its JSON result, decoded."""
        return json.loads(self._native.call(name, _call_args(args)))

    def changes(self, cursor: Optional[str] = None) -> Changes:
        """The events the provider lists since ``cursor`` (None: from its beginning), for
        providers whose capability says ``changes``; UnsupportedError for the others."""
        return Changes.from_dict(json.loads(self._native.changes(cursor)))

    @overload
    def download(
        self, handle: HandleLike, kind: Union[DownloadKind, str], path: None = None
    ) -> bytes: ...

    @overload
    def download(
        self, handle: HandleLike, kind: Union[DownloadKind, str], path: StrPath
    ) -> Path: ...

    def download(
        self, handle: HandleLike, kind: Union[DownloadKind, str], path: Optional[StrPath] = None
    ) -> Union[bytes, Path]:
        """The file of ``kind``: its bytes, or, given ``path``, written there (the file appears
        only once complete) and its path returned."""
        if path is None:
            return self._native.download(_handle_text(handle), str(kind))
        self._native.download(_handle_text(handle), str(kind), os.fspath(path))
        return Path(path)

    def cancel(self, handle: HandleLike) -> None:
        self._native.cancel(_handle_text(handle))

    def replay(self, since: SinceLike = 0, limit: int = 100) -> List[ReplayedEvent]:
        """The account's events from ``since`` (a stream position: events after it, 0 the
        beginning; or a time: committed at or after it), acknowledged or not, oldest first, at
        most ``limit`` (at most 1 000). Acknowledges nothing. Acknowledged events older than
        the retention may have been pruned (:meth:`prune_events`)."""
        return _replayed(self._native.replay_events(_since_text(since), limit))

    def prune_events(self, retention_hours: int) -> int:
        """Deletes the acknowledged events committed more than ``retention_hours`` ago (of
        every account in the journal; pending ones stay); returns how many. ``signbridge
        serve`` does this hourly by itself."""
        return self._native.prune_events(retention_hours)

    def close(self) -> None:
        """Releases the connections. Calls in flight finish; later calls raise RuntimeError."""
        self._native.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class AsyncClient(_Base, _AsyncEvents):
    """One provider account, for asyncio: the methods of :class:`Client` as coroutines.

    The work runs on signbridge's own threads; awaiting never blocks the event loop, and
    cancelling the awaiting task abandons the operation. Use ``async with``, or call
    :meth:`aclose`. The host signer stays a plain (blocking) callable.
    """

    async def send(self, envelope: EnvelopeLike, new_document: bool = False) -> Handle:
        """See :meth:`Client.send`. Cancelling it marks the send unknown in the journal at once,
        so :meth:`reconcile` answers it."""
        try:
            handle = await self._native.send_async(
                *_envelope_args(envelope), new_document=new_document
            )
        except SignbridgeError:
            self._raise_escaped()
            raise
        return Handle.from_dict(json.loads(handle))

    async def reconcile(self, reference: str) -> Reconciled:
        """See :meth:`Client.reconcile`."""
        return _reconciled(await self._native.reconcile_async(reference))

    async def reconcile_pending(self) -> List[Union[Reconciled, SignbridgeError]]:
        """See :meth:`Client.reconcile_pending`."""
        return _reconciled_rows(await self._native.reconcile_async(None))

    async def pending(self) -> List[Intent]:
        """See :meth:`Client.pending`."""
        return _pending(await self._native.pending_async())

    async def resolve(
        self, reference: str, *, sent_as: Optional[str] = None, not_sent: bool = False
    ) -> Reconciled:
        """See :meth:`Client.resolve`."""
        resolution = _resolution(sent_as, not_sent)
        return _reconciled(await self._native.resolve_async(reference, resolution))

    async def budget(self) -> List[BudgetWindow]:
        """See :meth:`Client.budget`."""
        return _budget(await self._native.budget_async())

    async def validate(self, envelope: EnvelopeLike) -> None:
        """See :meth:`Client.validate`."""
        await self._native.validate_async(*_envelope_args(envelope))

    async def status(self, handle: HandleLike) -> Status:
        return _status(await self._native.status_async(_handle_text(handle)))

    async def refresh(
        self, handles: Iterable[HandleLike], force: bool = False
    ) -> List[Union[Status, SignbridgeError]]:
        """See :meth:`Client.refresh`."""
        return _rows(await self._native.refresh_async(_handle_texts(handles), force))

    async def call(self, name: str, args: Any = None) -> Any:
        """See :meth:`Client.call`."""
        return json.loads(await self._native.call_async(name, _call_args(args)))

    async def changes(self, cursor: Optional[str] = None) -> Changes:
        """See :meth:`Client.changes`."""
        return Changes.from_dict(json.loads(await self._native.changes_async(cursor)))

    @overload
    async def download(
        self, handle: HandleLike, kind: Union[DownloadKind, str], path: None = None
    ) -> bytes: ...

    @overload
    async def download(
        self, handle: HandleLike, kind: Union[DownloadKind, str], path: StrPath
    ) -> Path: ...

    async def download(
        self, handle: HandleLike, kind: Union[DownloadKind, str], path: Optional[StrPath] = None
    ) -> Union[bytes, Path]:
        """See :meth:`Client.download`."""
        if path is None:
            return await self._native.download_async(_handle_text(handle), str(kind))
        await self._native.download_async(_handle_text(handle), str(kind), os.fspath(path))
        return Path(path)

    async def cancel(self, handle: HandleLike) -> None:
        await self._native.cancel_async(_handle_text(handle))

    async def replay(self, since: SinceLike = 0, limit: int = 100) -> List[ReplayedEvent]:
        """See :meth:`Client.replay`."""
        return _replayed(await self._native.replay_events_async(_since_text(since), limit))

    async def prune_events(self, retention_hours: int) -> int:
        """See :meth:`Client.prune_events`."""
        return await self._native.prune_events_async(retention_hours)

    async def aclose(self) -> None:
        """See :meth:`Client.close`."""
        self._native.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()
