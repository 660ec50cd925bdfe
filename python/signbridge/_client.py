"""``Client`` (blocking) and ``AsyncClient`` (asyncio) over the native client."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Type,
    Union,
    overload,
)

from . import _native
from .errors import SignbridgeError
from .types import CmsForm, DownloadKind, Envelope, Event, Handle, Status

__all__ = ["Client", "AsyncClient", "HostSigner"]

#: A handle, its dict, or its text (JSON or ``provider:account:id``).
HandleLike = Union[Handle, Mapping[str, Any], str]
#: An envelope, its dict, or its JSON text.
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


def _envelope_json(envelope: EnvelopeLike) -> str:
    if isinstance(envelope, Envelope):
        return envelope.to_json()
    if isinstance(envelope, str):
        return envelope
    return json.dumps(dict(envelope), ensure_ascii=False)


def _handle_text(handle: HandleLike) -> str:
    if isinstance(handle, Handle):
        return handle.to_json()
    if isinstance(handle, str):
        return handle
    return json.dumps(dict(handle), ensure_ascii=False)


def _status(json_text: str) -> Status:
    return Status.from_dict(json.loads(json_text))


def _event(json_text: Optional[str]) -> Optional[Event]:
    return Event.from_dict(json.loads(json_text)) if json_text is not None else None


def _statuses(results: List[Union[str, SignbridgeError]]) -> List[Union[Status, SignbridgeError]]:
    return [r if isinstance(r, SignbridgeError) else _status(r) for r in results]


class _Base:
    def __init__(self, config: ConfigLike) -> None:
        """Builds a client for one provider account. ``config`` is the core's ClientConfig
        (``provider``, ``account``, ``settings``, ``transport``); environment variables
        ``SIGNBRIDGE_<PROVIDER>_<NAME>`` set ``settings.<name>`` (e.g. the password).
        Raises ConfigError when it is incomplete or invalid."""
        self._native = _native.NativeClient(_config_json(config))

    @property
    def provider(self) -> str:
        return self._native.provider

    @property
    def account(self) -> str:
        return self._native.account

    @property
    def closed(self) -> bool:
        return self._native.closed

    def set_host_signer(self, signer: Optional[HostSigner]) -> None:
        """Sets, or with None removes, the host signer: a :class:`SoftwareSigner`, which signs
        inside signbridge without calling Python, or any :data:`HostSigner` callable."""
        if signer is None or isinstance(signer, _native.SoftwareSigner):
            self._native.set_host_signer(signer)
            return

        def sign(data: bytes, form: str) -> bytes:
            return signer(data, CmsForm(form))

        self._native.set_host_signer(sign)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<{type(self).__name__} {self.provider}:{self.account}{state}>"


class Client(_Base):
    """One provider account, blocking calls. Thread-safe: share one client between threads.

    Every call releases the GIL while it waits and can be interrupted with Ctrl-C. Use it as
    a context manager, or call :meth:`close`, to release its connections.
    """

    def send(self, envelope: EnvelopeLike) -> Handle:
        """Validates the envelope, creates it at the provider and sends it to the parties.

        Raises ValidationError (naming the ``field``) before any request when the envelope is
        wrong, and OutcomeUnknown when a write's answer was lost (``handle`` set when the
        document exists: check its status before sending again)."""
        return Handle.from_dict(json.loads(self._native.send(_envelope_json(envelope))))

    def status(self, handle: HandleLike) -> Status:
        return _status(self._native.status(_handle_text(handle)))

    def refresh(self, handles: Iterable[HandleLike]) -> List[Union[Status, SignbridgeError]]:
        """The status of many envelopes, in input order: each entry a Status, or the exception
        of that handle's failure (one failure never fails the batch)."""
        return _statuses(self._native.refresh([_handle_text(h) for h in handles]))

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

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The oldest event not yet taken (changes seen by ``status``/``refresh``). Waits up
        to ``timeout`` seconds (None: until one arrives); None if none came."""
        return _event(self._native.next_event(timeout))

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events as they come. With a ``timeout``, the iteration ends once no
        event arrived for that many seconds; without, it waits for more forever."""
        while True:
            event = self.next_event(timeout)
            if event is None:
                return
            yield event

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


class AsyncClient(_Base):
    """One provider account, for asyncio: the methods of :class:`Client` as coroutines.

    The work runs on signbridge's own threads; awaiting never blocks the event loop, and
    cancelling the awaiting task abandons the operation. Use ``async with``, or call
    :meth:`aclose`. The host signer stays a plain (blocking) callable.
    """

    async def send(self, envelope: EnvelopeLike) -> Handle:
        """See :meth:`Client.send`."""
        handle = await self._native.send_async(_envelope_json(envelope))
        return Handle.from_dict(json.loads(handle))

    async def status(self, handle: HandleLike) -> Status:
        return _status(await self._native.status_async(_handle_text(handle)))

    async def refresh(
        self, handles: Iterable[HandleLike]
    ) -> List[Union[Status, SignbridgeError]]:
        """See :meth:`Client.refresh`."""
        return _statuses(await self._native.refresh_async([_handle_text(h) for h in handles]))

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

    async def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """See :meth:`Client.next_event`."""
        return _event(await self._native.next_event_async(timeout))

    async def events(self, timeout: Optional[float] = None) -> AsyncIterator[Event]:
        """See :meth:`Client.events`; ``async for event in client.events(1.0): ...``."""
        while True:
            event = await self.next_event(timeout)
            if event is None:
                return
            yield event

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
