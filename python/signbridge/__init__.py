"""signbridge: one provider-neutral API for electronic-signature and EDO providers.

``Client`` (blocking) and ``AsyncClient`` (asyncio) send envelopes, read their status and
download the signed files; the model is in ``signbridge.types`` and the exceptions, one class
per error kind, in ``signbridge.errors``. Core logs go to the ``signbridge`` logger.
"""

from . import _logging as _logging  # imported by the native module when it logs
from ._client import AsyncClient, Client, HostSigner
from ._native import SoftwareSigner, __version__
from .errors import (
    AuthError,
    ConfigError,
    ConflictError,
    InternalError,
    NotFound,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    SignbridgeError,
    JournalError,
    SigningError,
    Timeout,
    TransportError,
    UnsupportedError,
    ValidationError,
)
from .types import (
    CmsForm,
    Document,
    DownloadKind,
    Envelope,
    Event,
    EventKind,
    Handle,
    Message,
    Party,
    PartyState,
    PartyStatus,
    Role,
    State,
    Status,
)

__all__ = [
    "__version__",
    "Client",
    "AsyncClient",
    "HostSigner",
    "SoftwareSigner",
    "Envelope",
    "Document",
    "Party",
    "Message",
    "Handle",
    "Status",
    "PartyStatus",
    "Event",
    "State",
    "PartyState",
    "Role",
    "EventKind",
    "DownloadKind",
    "CmsForm",
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
