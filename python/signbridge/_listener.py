"""``Listener`` and ``AsyncListener``: signbridge's own webhook server inside the host's
process, for hosts without a web server of their own."""

from __future__ import annotations

from types import TracebackType
from typing import AsyncIterator, Iterator, Optional, Tuple, Type

from . import _native
from ._client import ConfigLike, _config_json, _event
from .types import Event

__all__ = ["Listener", "AsyncListener"]


class _Base:
    def __init__(self, config: ConfigLike) -> None:
        """Starts the listener: binds ``listen`` and serves ``POST /webhooks/<source>/<account>``
        for each route, ``GET /health``, and the download worker of SINtegre routes, on
        signbridge's threads. ``config`` is the listener configuration ``signbridge serve``
        reads (``listen``, ``journal``, ``routes``, ``download_poll_ms``, ``tls``); with port 0
        a free port is picked (see :attr:`url`). ``SIGNBRIDGE_JOURNAL`` sets the journal's path.
        ValidationError names a field that does not fit; ConfigError if it cannot bind."""
        self._native = _native.NativeListener(_config_json(config))

    @property
    def url(self) -> str:
        """``http://IP:PORT`` (``https://`` with ``tls``): the senders post to
        ``{url}/webhooks/<source>/<account>``."""
        return self._native.url

    @property
    def address(self) -> Tuple[str, int]:
        """The bound (ip, port)."""
        return self._native.address

    @property
    def stopped(self) -> bool:
        return self._native.stopped

    def __repr__(self) -> str:
        state = " stopped" if self.stopped else ""
        return f"<{type(self).__name__} {self.url}{state}>"


class Listener(_Base):
    """The embedded webhook listener. A delivery is answered 200 only once it is committed to
    the journal; its events (and those of the downloads) come from :meth:`next_event` until
    acknowledged, again after a restart. Thread-safe; calls release the GIL. Use ``with``, or
    call :meth:`stop`."""

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The oldest event of the routes not yet acknowledged nor handed out, waiting up to
        ``timeout`` seconds (forever without); None if none came. See :meth:`Client.next_event`."""
        return _event(self._native.next_event(timeout), self._native.ack_event)

    def ack_event(self, event_id: str) -> bool:
        """See :meth:`Client.ack_event`."""
        return self._native.ack_event(event_id)

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events as they come; with a ``timeout``, ends once none came for that
        many seconds. See :meth:`Client.events`."""
        while True:
            event = self.next_event(timeout)
            if event is None:
                return
            yield event

    def stop(self) -> None:
        """Stops accepting, answers the deliveries in flight after their commit and lets the
        download in progress end, then returns. Later event calls raise RuntimeError."""
        self._native.stop()

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()


class AsyncListener(_Base):
    """:class:`Listener` for asyncio: its methods as coroutines, run on signbridge's threads so
    awaiting never blocks the event loop. Use ``async with``, or await :meth:`stop`."""

    async def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """See :meth:`Listener.next_event`."""
        return _event(await self._native.next_event_async(timeout), self._native.ack_event)

    async def ack_event(self, event_id: str) -> bool:
        """See :meth:`Listener.ack_event`."""
        return await self._native.ack_event_async(event_id)

    async def events(self, timeout: Optional[float] = None) -> AsyncIterator[Event]:
        """See :meth:`Listener.events`; ``async for event in listener.events(): ...``."""
        while True:
            event = await self.next_event(timeout)
            if event is None:
                return
            yield event

    async def stop(self) -> None:
        """See :meth:`Listener.stop`."""
        await self._native.stop_async()

    async def __aenter__(self) -> AsyncListener:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.stop()
