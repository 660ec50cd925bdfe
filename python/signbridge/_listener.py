"""``Listener`` and ``AsyncListener``: signbridge's own webhook server inside the host's
process, for hosts without a web server of their own."""

from __future__ import annotations

from types import TracebackType
from typing import Optional, Tuple, Type

from . import _native
from ._client import ConfigLike, _AsyncEvents, _config_json, _Events

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


class Listener(_Base, _Events):
    """The embedded webhook listener. A delivery is answered 200 only once it is committed to
    the journal; its events (and those of the downloads) come from :meth:`next_event` until
    acknowledged, again after a restart. Thread-safe; calls release the GIL. Use ``with``, or
    call :meth:`stop`."""

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


class AsyncListener(_Base, _AsyncEvents):
    """:class:`Listener` for asyncio: its methods as coroutines, run on signbridge's threads so
    awaiting never blocks the event loop. Use ``async with``, or await :meth:`stop`."""

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
