"""Core log records into Python ``logging``, under the ``signbridge`` logger.

The native module queues what the Rust core logs and hands the queue here from a thread that
holds the GIL anyway (see python/src/logging.rs). Configure it like any library logger::

    logging.getLogger("signbridge").setLevel(logging.DEBUG)

Levels: ERROR 40, WARNING 30, INFO 20 (retries), DEBUG 10 (requests), and 5 for tracing's TRACE.
"""

from __future__ import annotations

import logging
from typing import List, Optional, Tuple

_ROOT = logging.getLogger("signbridge")

#: ``(levelno, logger name, message, created, Rust file, line)``
_Entry = Tuple[int, str, str, float, Optional[str], Optional[int]]


def _deliver(entries: List[_Entry]) -> int:
    """Emits queued core records; answers the lowest level that ``signbridge`` or one of its
    child loggers wants, so the core does not format records nobody reads."""
    for levelno, name, message, created, path, line in entries:
        logger = logging.getLogger(name)
        if not logger.isEnabledFor(levelno):
            continue
        record = logger.makeRecord(name, levelno, path or "", line or 0, message, (), None)
        # The record is made when it reaches Python; it happened when the core logged it.
        record.created = created
        record.msecs = (created - int(created)) * 1000
        logger.handle(record)
    levels = [_ROOT.getEffectiveLevel()]
    for name, child in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("signbridge.") and isinstance(child, logging.Logger):
            levels.append(child.getEffectiveLevel())
    return min(levels)
