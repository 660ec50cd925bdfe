"""The whole TAE flow with the blocking client, against the local sandbox: send a contract to
two signers in order, have each one sign, poll until the envelope is completed, download the
signed PDF and print its path (to ./out, or $SIGNBRIDGE_OUT_DIR).

    cargo run -p signbridge-cli -- sandbox --port 8080 &
    python examples/python/tae_flow.py http://127.0.0.1:8080
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sandbox_helpers import SIGNERS, contract_pdf, sandbox_url, sign_in_sandbox, tae_config

import signbridge
from signbridge import DownloadKind, PartyState, State

POLL_EVERY = 0.2
POLL_LIMIT = 30.0


def wait_until_signed(
    client: signbridge.Client, handle: signbridge.Handle, email: str
) -> signbridge.Status:
    """Polls until the party with ``email`` has signed."""
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        status = client.status(handle)
        if any(p.email == email and p.state is PartyState.SIGNED for p in status.parties):
            return status
        if status.state.is_terminal or time.monotonic() > deadline:
            raise SystemExit(f"{email} did not sign; the envelope is {status.state}")
        time.sleep(POLL_EVERY)


def main() -> None:
    url = sandbox_url()
    out_dir = Path(os.environ.get("SIGNBRIDGE_OUT_DIR", "out"))
    envelope = signbridge.Envelope(
        reference="RM-000123",
        title="Contrato de prestação de serviços nº 000123",
        documents=[
            signbridge.Document.from_bytes("contrato-000123.pdf", contract_pdf("Contrato 000123"))
        ],
        parties=[
            signbridge.Party(name=s["name"], email=s["email"], tax_id=s["tax_id"], order=n)
            for n, s in enumerate(SIGNERS, 1)
        ],
        message=signbridge.Message(
            subject="Contrato 000123", body="Segue o contrato para assinatura."
        ),
        sequential=True,
    )
    with signbridge.Client(tae_config(url)) as client:
        handle = client.send(envelope)
        # Keep str(handle) (or handle.to_json()) in the ERP record to come back to it later.
        print(f"sent {envelope.reference} as {handle}")

        for signer in SIGNERS:
            # In real life the party signs on the provider's page; here a control route does.
            sign_in_sandbox(url, handle.id, signer["email"])
            status = wait_until_signed(client, handle, signer["email"])
            print(f"{signer['name']} signed; the envelope is {status.state}")
        assert status.state is State.COMPLETED

        out_dir.mkdir(parents=True, exist_ok=True)
        path = client.download(
            handle, DownloadKind.SIGNED, out_dir / f"{envelope.reference}-signed.pdf"
        )
        print(path)


if __name__ == "__main__":
    main()
