"""iDocs (Kazakhstan), where the host signs: send a contract to a counterparty with the
sender's signature made here (a CMS over the bytes iDocs hands out), let the counterparty
sign, wait until the document is completed, and download its print form and its archive
(to ./out, or $SIGNBRIDGE_OUT_DIR).

The signer, chosen with --signer:
  python    (default) a signer written in Python with the `cryptography` package: the shape
            of an ERP with a crypto provider of its own (a smart card, NCALayer);
  software  signbridge's reference software signer with a key file (PEM here, PKCS#12 too),
            for a host without one; no Python runs while it signs.
Against the sandbox the key is a throw-away one made here (with `cryptography`, which this
example needs: pip install cryptography); in production it is the company's.

    cargo run -p signbridge-cli -- sandbox --port 8080 &
    python examples/python/idocs_signing.py http://127.0.0.1:8080 [--signer software]
"""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path
from typing import Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from sandbox_helpers import IDOCS_COUNTERPARTY, config, contract_pdf, counterparty_signs_in_sandbox
from signing_flow import wait_for

import signbridge
from signbridge import CmsForm, DownloadKind, State

SENDER = "ТОО «Жіберуші» — бухгалтерия"


def throwaway_key(common_name: str = SENDER) -> Tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A P-256 key and a self-signed certificate for `common_name`, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def cms_sign(
    key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate, data: bytes, form: CmsForm
) -> bytes:
    """A DER CMS over `data` made by `cryptography`, embedding it unless `form` is detached."""
    options = [pkcs7.PKCS7Options.Binary]
    if form is CmsForm.DETACHED:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(certificate, key, hashes.SHA256())
    return builder.sign(serialization.Encoding.DER, options)


def python_signer(
    key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> signbridge.HostSigner:
    """Signs on a signbridge thread while `send` waits; an exception fails the send with
    SigningError, and the document stays a draft (its handle is on the error)."""

    def sign(data: bytes, form: CmsForm) -> bytes:
        return cms_sign(key, certificate, data, form)

    return sign


def key_file_pem(key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> bytes:
    """The certificate and the unencrypted PKCS#8 key, in one PEM text (a key file)."""
    return certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def software_signer(
    key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> signbridge.SoftwareSigner:
    """The key file signbridge signs with. From a .p12/.pfx file it would be
    SoftwareSigner.from_pkcs12(Path("company.p12").read_bytes(), password)."""
    return signbridge.SoftwareSigner.from_pem(key_file_pem(key, certificate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("SIGNBRIDGE_SANDBOX_URL"))
    parser.add_argument("--signer", choices=["python", "software"], default="python")
    parser.add_argument("--cms-form", choices=[f.value for f in CmsForm], default="attached")
    args = parser.parse_args()
    if not args.url:
        parser.error("give the sandbox URL (or set SIGNBRIDGE_SANDBOX_URL)")
    url = args.url.rstrip("/")
    out_dir = Path(os.environ.get("SIGNBRIDGE_OUT_DIR", "out"))

    settings = config("idocs", url)
    settings["settings"]["cms_form"] = args.cms_form
    envelope = signbridge.Envelope(
        reference="KZ-000123",
        title="Договор поставки № 123",
        documents=[signbridge.Document.from_bytes("dogovor-123.pdf", contract_pdf("Dogovor 123"))],
        parties=[
            signbridge.Party(
                name=IDOCS_COUNTERPARTY["name"],
                email=IDOCS_COUNTERPARTY["email"],
                tax_id=IDOCS_COUNTERPARTY["tax_id"],
            )
        ],
    )
    key, certificate = throwaway_key()
    with signbridge.Client(settings) as client:
        if args.signer == "software":
            client.set_host_signer(software_signer(key, certificate))
        else:
            client.set_host_signer(python_signer(key, certificate))
        # Uploads, routes, asks the signer for the CMS, uploads it and saves the signature.
        handle = client.send(envelope)
        print(f"sent {envelope.reference} as {handle}, signed by {SENDER} ({args.signer} signer)")
        print(f"the document is {client.status(handle).state}")

        # In real life the counterparty signs in its own iDocs account; here a control route.
        counterparty_signs_in_sandbox(url, handle.id)
        wait_for(client, handle, State.COMPLETED)
        print(f"{IDOCS_COUNTERPARTY['name']} signed; the document is completed")

        out_dir.mkdir(parents=True, exist_ok=True)
        for kind, suffix in [(DownloadKind.SIGNED, "pdf"), (DownloadKind.ARCHIVE, "zip")]:
            name = f"{envelope.reference}-idocs-{kind.value}.{suffix}"
            print(client.download(handle, kind, out_dir / name))


if __name__ == "__main__":
    main()
