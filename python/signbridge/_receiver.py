"""``Receiver`` and ``AsyncReceiver``: webhook intake for hosts whose own web server takes the
requests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, List, Mapping, Tuple, Union

from . import _native
from ._client import ConfigLike, _AsyncEvents, _config_json, _Events

__all__ = ["Receiver", "AsyncReceiver", "Reply"]

#: Request headers: a mapping, or (name, value) pairs (which may repeat a name).
HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


@dataclass
class Reply:
    """What to answer the sender: send ``status``, ``headers`` and ``body`` back as they are."""

    status: int
    headers: List[Tuple[str, str]]
    body: str


def _headers_json(headers: HeadersLike) -> str:
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    return json.dumps([list(p) for p in pairs])


def _reply(status: int, reply: str) -> Reply:
    data = json.loads(reply)
    return Reply(status, [(k, v) for k, v in data["headers"]], data["body"])


class _Base:
    def __init__(self, config: ConfigLike) -> None:
        """``config`` is the core's ReceiverConfig: ``{"journal": {...}, "routes": [{"source":
        "sintegre", "account": "ons", "settings": {...}}]}``; ``SIGNBRIDGE_JOURNAL`` sets the
        journal's path."""
        self._native = _native.NativeReceiver(_config_json(config))


class Receiver(_Base, _Events):
    """Receives webhook deliveries (SINtegre, iDocs, ArqSign, TAE) into the journal and hands
    their events out until acknowledged. Thread-safe; calls release the GIL.

    A client of the same provider account on the same journal sees the account's webhook
    events too.
    """

    def handle(
        self, source: str, account: str, method: str, headers: HeadersLike, body: bytes
    ) -> Reply:
        """The reply to one request to the route (``source``, ``account``): 200 only once the
        delivery is committed; 404, 405, 413, 401, 400 or 503 otherwise."""
        status, reply = self._native.handle(
            source, account, method, _headers_json(headers), bytes(body)
        )
        return _reply(status, reply)


class AsyncReceiver(_Base, _AsyncEvents):
    """:class:`Receiver` for asyncio web servers (FastAPI, aiohttp): its methods as coroutines,
    run on signbridge's threads so awaiting never blocks the event loop."""

    async def handle(
        self, source: str, account: str, method: str, headers: HeadersLike, body: bytes
    ) -> Reply:
        """See :meth:`Receiver.handle`."""
        status, reply = await self._native.handle_async(
            source, account, method, _headers_json(headers), bytes(body)
        )
        return _reply(status, reply)
