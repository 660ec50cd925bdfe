# The private native module (python/src). Arguments and results are JSON text in the core's
# shapes; the public API is signbridge.Client and signbridge.AsyncClient.

import asyncio
from typing import Callable, Optional, Union, final, overload

from .errors import SignbridgeError

__all__ = [
    "__version__",
    "ERROR_KINDS",
    "DOWNLOAD_KINDS",
    "NativeClient",
    "SoftwareSigner",
    "parse_handle",
    "_panic_for_test",
]

__version__: str
#: (code, name) of every core error kind, in code order.
ERROR_KINDS: list[tuple[int, str]]
#: The name of every download kind.
DOWNLOAD_KINDS: list[str]

def parse_handle(text: str) -> str: ...
def _panic_for_test(in_task: bool) -> None: ...

@final
class NativeClient:
    def __new__(cls, config: str) -> NativeClient: ...
    @property
    def provider(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def set_host_signer(
        self, signer: Union[SoftwareSigner, Callable[[bytes, str], bytes], None]
    ) -> None: ...
    def send(self, envelope: str) -> str: ...
    def send_async(self, envelope: str) -> asyncio.Future[str]: ...
    def status(self, handle: str) -> str: ...
    def status_async(self, handle: str) -> asyncio.Future[str]: ...
    def refresh(self, handles: list[str]) -> list[Union[str, SignbridgeError]]: ...
    def refresh_async(
        self, handles: list[str]
    ) -> asyncio.Future[list[Union[str, SignbridgeError]]]: ...
    @overload
    def download(self, handle: str, kind: str, path: None = None) -> bytes: ...
    @overload
    def download(self, handle: str, kind: str, path: str) -> None: ...
    @overload
    def download_async(
        self, handle: str, kind: str, path: None = None
    ) -> asyncio.Future[bytes]: ...
    @overload
    def download_async(self, handle: str, kind: str, path: str) -> asyncio.Future[None]: ...
    def cancel(self, handle: str) -> None: ...
    def cancel_async(self, handle: str) -> asyncio.Future[None]: ...
    def next_event(self, timeout: Optional[float] = None) -> Optional[str]: ...
    def next_event_async(self, timeout: Optional[float] = None) -> asyncio.Future[Optional[str]]: ...

@final
class SoftwareSigner:
    """The reference software signer: an RSA or ECDSA P-256 key and its certificate, from PEM
    or PKCS#12, signing inside signbridge (no Python call, no GIL) for hosts without a crypto
    provider of their own. Hand it to ``Client.set_host_signer``. A key that does not load, a
    wrong password or a certificate that is not the key's raise ``SigningError``."""

    @staticmethod
    def from_pem(
        certificate_pem: Union[str, bytes], private_key_pem: Union[str, bytes, None] = None
    ) -> SoftwareSigner:
        """The certificate (then any chain) and an unencrypted PKCS#8, PKCS#1 or SEC1 key;
        without ``private_key_pem`` the key is looked for in ``certificate_pem``."""
    @staticmethod
    def from_pkcs12(data: bytes, password: str = "") -> SoftwareSigner:
        """A PKCS#12 (``.p12`` / ``.pfx``) file's bytes and its password."""
    @property
    def certificate_der(self) -> bytes:
        """The signer's certificate, DER."""
    def sign(self, data: bytes, form: str) -> bytes:
        """A DER CMS over ``data``, embedding it when ``form`` is ``"attached"``."""
    def __call__(self, data: bytes, form: str) -> bytes: ...
