"""``Receiver``: webhook intake for hosts whose own web server takes the requests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from . import _native
from ._client import ConfigLike, _config_json, _event
from .types import Event

__all__ = ["Receiver", "Reply"]

#: Request headers: a mapping, or (name, value) pairs (which may repeat a name).
HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


@dataclass
class Reply:
    """What to answer the sender: send ``status``, ``headers`` and ``body`` back as they are."""

    status: int
    headers: List[Tuple[str, str]]
    body: str


class Receiver:
    """Receives webhook deliveries (SINtegre, iDocs, ArqSign, TAE) into the journal and hands
    their events out until acknowledged. Thread-safe; calls release the GIL.

    ``config`` is the core's ReceiverConfig: ``{"journal": {...}, "routes": [{"source":
    "sintegre", "account": "ons", "settings": {...}}]}``; ``SIGNBRIDGE_JOURNAL`` sets the
    journal's path. A client of the same provider account on the same journal sees the
    account's webhook events too.
    """

    def __init__(self, config: ConfigLike) -> None:
        self._native = _native.NativeReceiver(_config_json(config))

    def handle(
        self, source: str, account: str, method: str, headers: HeadersLike, body: bytes
    ) -> Reply:
        """The reply to one request to the route (``source``, ``account``): 200 only once the
        delivery is committed; 404, 405, 413, 401, 400 or 503 otherwise."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        status, reply = self._native.handle(
            source, account, method, json.dumps([list(p) for p in pairs]), bytes(body)
        )
        data = json.loads(reply)
        return Reply(status, [(k, v) for k, v in data["headers"]], data["body"])

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The oldest event of the routes not yet taken; see :meth:`Client.next_event`."""
        return _event(self._native.next_event(timeout), self._native.ack_event)

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events as they come; see :meth:`Client.events`."""
        while True:
            event = self.next_event(timeout)
            if event is None:
                return
            yield event

    def ack_event(self, event_id: str) -> bool:
        """See :meth:`Client.ack_event`."""
        return self._native.ack_event(event_id)
