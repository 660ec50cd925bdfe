"""The whole TAE flow with the asyncio client, against the local sandbox: the same steps as
tae_flow.py, as coroutines. Prints the path of the signed PDF (in ./out, or
$SIGNBRIDGE_OUT_DIR).

    cargo run -p signbridge-cli -- sandbox --port 8080 &
    python examples/python/tae_flow_async.py http://127.0.0.1:8080
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sandbox_helpers import SIGNERS, contract_pdf, sandbox_url, sign_in_sandbox, tae_config

import signbridge
from signbridge import DownloadKind, PartyState, State

POLL_EVERY = 0.2
POLL_LIMIT = 30.0


async def wait_until_signed(
    client: signbridge.AsyncClient, handle: signbridge.Handle, email: str
) -> signbridge.Status:
    """Polls until the party with ``email`` has signed."""
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        status = await client.status(handle)
        if any(p.email == email and p.state is PartyState.SIGNED for p in status.parties):
            return status
        if status.state.is_terminal or time.monotonic() > deadline:
            raise SystemExit(f"{email} did not sign; the envelope is {status.state}")
        await asyncio.sleep(POLL_EVERY)


async def main() -> None:
    url = sandbox_url()
    out_dir = Path(os.environ.get("SIGNBRIDGE_OUT_DIR", "out"))
    envelope = signbridge.Envelope(
        reference="RM-000124",
        title="Contrato de prestação de serviços nº 000124",
        documents=[
            signbridge.Document.from_bytes("contrato-000124.pdf", contract_pdf("Contrato 000124"))
        ],
        parties=[
            signbridge.Party(name=s["name"], email=s["email"], tax_id=s["tax_id"], order=n)
            for n, s in enumerate(SIGNERS, 1)
        ],
        message=signbridge.Message(
            subject="Contrato 000124", body="Segue o contrato para assinatura."
        ),
        sequential=True,
    )
    async with signbridge.AsyncClient(tae_config(url)) as client:
        handle = await client.send(envelope)
        print(f"sent {envelope.reference} as {handle}")

        for signer in SIGNERS:
            # The control route is plain blocking urllib: run it off the event loop.
            await asyncio.to_thread(sign_in_sandbox, url, handle.id, signer["email"])
            status = await wait_until_signed(client, handle, signer["email"])
            print(f"{signer['name']} signed; the envelope is {status.state}")
        assert status.state is State.COMPLETED

        out_dir.mkdir(parents=True, exist_ok=True)
        path = await client.download(
            handle, DownloadKind.SIGNED, out_dir / f"{envelope.reference}-signed.pdf"
        )
        print(path)


if __name__ == "__main__":
    asyncio.run(main())
