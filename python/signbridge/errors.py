"""The exceptions of signbridge: one class per core error kind, under :class:`SignbridgeError`.

Each carries the core's stable numeric ``code`` (shared with the C ABI and the CLI), the HTTP
status and the provider's own message when there was a response. The native module raises
these classes; ``_from_native`` is how it builds them.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Mapping, Optional

from .types import Handle

__all__ = [
    "SignbridgeError",
    "ConfigError",
    "UnsupportedError",
    "AuthError",
    "ValidationError",
    "NotFound",
    "ConflictError",
    "RateLimited",
    "TransportError",
    "Timeout",
    "OutcomeUnknown",
    "ProviderError",
    "JournalError",
    "SigningError",
    "InternalError",
]


class SignbridgeError(Exception):
    """Any failure of a signbridge operation.

    Attributes:
        code: the stable numeric code of the kind (``ValidationError.code == 300``).
        kind: the kind's stable name (``"validation"``).
        http_status: the provider's HTTP status, when there was a response.
        provider_message: the provider's own words, when it said something.
        field: for validation errors, the field at fault (``"parties[1].email"``).
        retry_after: seconds the provider asked to wait (rate limiting).
        handle: the envelope the operation concerned, when known (see :class:`OutcomeUnknown`).
    """

    code: ClassVar[int] = 0
    kind: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        http_status: Optional[int] = None,
        provider_message: Optional[str] = None,
        field: Optional[str] = None,
        retry_after: Optional[float] = None,
        handle: Optional[Handle] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.provider_message = provider_message
        self.field = field
        self.retry_after = retry_after
        self.handle = handle

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"


class ConfigError(SignbridgeError):
    """The client configuration is incomplete or invalid."""

    code = 100
    kind = "config"


class UnsupportedError(SignbridgeError):
    """The provider cannot do this (e.g. a download kind it does not have)."""

    code = 101
    kind = "unsupported"


class AuthError(SignbridgeError):
    """Credentials or token refused."""

    code = 200
    kind = "auth"


class ValidationError(SignbridgeError):
    """Bad input, caught locally before any request or refused by the provider; ``field``
    names what is wrong."""

    code = 300
    kind = "validation"


class NotFound(SignbridgeError):
    """The document does not exist (any more)."""

    code = 301
    kind = "not_found"


class ConflictError(SignbridgeError):
    """The document's state forbids the operation (e.g. cancel a finished one)."""

    code = 302
    kind = "conflict"


class RateLimited(SignbridgeError):
    """The provider asked to wait longer than ``transport.max_retry_after_ms`` allows;
    ``retry_after`` says how long, in seconds."""

    code = 400
    kind = "rate_limited"


class TransportError(SignbridgeError):
    """The connection failed or broke."""

    code = 401
    kind = "transport"


class Timeout(SignbridgeError):
    """No answer in time."""

    code = 402
    kind = "timeout"


class OutcomeUnknown(SignbridgeError):
    """A write was sent and its answer lost: it may have taken effect. ``handle`` is set when
    the document exists, so its status can be checked before sending again."""

    code = 403
    kind = "outcome_unknown"


class ProviderError(SignbridgeError):
    """The provider failed (5xx after retries) or answered something unexpected."""

    code = 500
    kind = "provider"


class JournalError(SignbridgeError):
    """The journal (the local store of intents, sessions and budgets) cannot be opened, read
    or written; the message names its file."""

    code = 600
    kind = "journal"


class SigningError(SignbridgeError):
    """The host signer is missing or failed; ``provider_message`` holds its own message."""

    code = 700
    kind = "signing"


class InternalError(SignbridgeError):
    """A bug in signbridge (a Rust panic ends up here too)."""

    code = 900
    kind = "internal"


_BY_KIND: dict[str, type[SignbridgeError]] = {
    cls.kind: cls
    for cls in (
        ConfigError,
        UnsupportedError,
        AuthError,
        ValidationError,
        NotFound,
        ConflictError,
        RateLimited,
        TransportError,
        Timeout,
        OutcomeUnknown,
        ProviderError,
        JournalError,
        SigningError,
        InternalError,
    )
}


def error_class(kind: str) -> type[SignbridgeError]:
    """The class for a core error kind name (``"not_found"`` → :class:`NotFound`)."""
    return _BY_KIND.get(kind, SignbridgeError)


def _from_json(data: Mapping[str, Any]) -> SignbridgeError:
    """The exception of a core error in its JSON form (``code``, ``kind``, ``message``,
    ``http_status``, ``provider_message``, ``retry_after_ms``, ``field``, ``handle``): the
    ``error`` of a refresh row."""
    retry_after_ms = data.get("retry_after_ms")
    handle = data.get("handle")
    return error_class(data["kind"])(
        data["message"],
        http_status=data.get("http_status"),
        provider_message=data.get("provider_message"),
        field=data.get("field"),
        retry_after=retry_after_ms / 1000 if retry_after_ms is not None else None,
        handle=Handle.from_dict(handle) if handle is not None else None,
    )


def _from_native(
    kind: str,
    message: str,
    *,
    http_status: Optional[int],
    provider_message: Optional[str],
    retry_after: Optional[float],
    field: Optional[str],
    handle: Optional[str],
) -> SignbridgeError:
    """Called by ``signbridge._native`` to build the exception of a core error."""
    return error_class(kind)(
        message,
        http_status=http_status,
        provider_message=provider_message,
        field=field,
        retry_after=retry_after,
        handle=Handle.from_dict(json.loads(handle)) if handle is not None else None,
    )
