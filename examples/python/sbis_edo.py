"""SBIS / Saby (Russia), where the host signs every file SBIS prepares: send a contract to a
counterparty named by its ИНН/КПП with our detached CMS made here, let the counterparty approve
it, wait until the document is completed, download the file as sent, and keep the local archive
(every file and every signature, ours and the counterparty's) in ./out, or $SIGNBRIDGE_OUT_DIR.

The signer is written in Python with the `cryptography` package (pip install cryptography), the
shape of an ERP whose key sits behind CryptoPro; against the sandbox the key is a throw-away
P-256 one made here (the sandbox checks the signature, not the certificate).

    cargo run -p signbridge-cli -- sandbox --port 8080 &
    python examples/python/sbis_edo.py http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from idocs_signing import cms_sign, throwaway_key
from sandbox_helpers import (
    SBIS_COUNTERPARTY,
    config,
    contract_pdf,
    sbis_counterparty_approves_in_sandbox,
)
from signing_flow import wait_for

import signbridge
from signbridge import CmsForm, DownloadKind, State

SENDER = "ООО «Наша» — бухгалтерия"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("SIGNBRIDGE_SANDBOX_URL"))
    args = parser.parse_args()
    if not args.url:
        parser.error("give the sandbox URL (or set SIGNBRIDGE_SANDBOX_URL)")
    url = args.url.rstrip("/")
    out_dir = Path(os.environ.get("SIGNBRIDGE_OUT_DIR", "out"))

    settings = config("sbis", url)
    settings["settings"]["archive_dir"] = str(out_dir / "sbis-archive")
    envelope = signbridge.Envelope(
        reference="RU-000017",
        title="Договор поставки № 17 «Премьер»",
        documents=[signbridge.Document.from_bytes("dogovor-17.pdf", contract_pdf("Dogovor 17"))],
        parties=[
            signbridge.Party(
                name=SBIS_COUNTERPARTY["name"],
                email=SBIS_COUNTERPARTY["email"],
                tax_id=SBIS_COUNTERPARTY["tax_id"],
            )
        ],
    )
    key, certificate = throwaway_key(SENDER)

    def sign(data: bytes, form: CmsForm) -> bytes:
        # SBIS asks for a detached CMS over the exact bytes it prepared.
        return cms_sign(key, certificate, data, form)

    with signbridge.Client(settings) as client:
        client.set_host_signer(sign)
        # ЗаписатьДокумент → ПодготовитьДействие → this signer → ВыполнитьДействие.
        handle = client.send(envelope)
        print(f"sent {envelope.reference} as {handle}, signed by {SENDER}")
        print(f"the document is {client.status(handle).state}")

        # In real life the counterparty approves in its own SBIS account; here a control route.
        sbis_counterparty_approves_in_sandbox(url, handle.id)
        wait_for(client, handle, State.COMPLETED)
        print(f"{SBIS_COUNTERPARTY['name']} approved; the document is completed")

        out_dir.mkdir(parents=True, exist_ok=True)
        original = out_dir / f"{envelope.reference}-sbis.pdf"
        print(client.download(handle, DownloadKind.ORIGINAL, original))
        index = client.call("archive", {"id": handle.id})
        sides = [s["direction"] for f in index["files"] for s in f["signatures"]]
        print(f"archived {len(index['files'])} file(s), signatures {json.dumps(sides, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
