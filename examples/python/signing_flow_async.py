"""The whole signing flow with the asyncio client, against the local sandbox, for TAE or
ArqSign: the same steps as signing_flow.py, as coroutines. Prints the paths of the downloaded
files (in ./out, or $SIGNBRIDGE_OUT_DIR).

    cargo run -p signbridge-cli -- sandbox --port 8080 &
    python examples/python/signing_flow_async.py arqsign http://127.0.0.1:8080
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sandbox_helpers import SIGNERS, arguments, config, sample_envelope, sign_in_sandbox

import signbridge
from signbridge import DownloadKind, State

POLL_EVERY = 0.2
POLL_LIMIT = 30.0


async def wait_for(
    client: signbridge.AsyncClient, handle: signbridge.Handle, state: State
) -> signbridge.Status:
    """Polls until the envelope is in `state`. (Some providers also report each party.)"""
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        status = await client.status(handle)
        if status.state is state:
            return status
        if status.state.is_terminal or time.monotonic() > deadline:
            raise SystemExit(f"the envelope is {status.state}, not {state}")
        await asyncio.sleep(POLL_EVERY)


async def main() -> None:
    provider, url = arguments()
    out_dir = Path(os.environ.get("SIGNBRIDGE_OUT_DIR", "out"))
    envelope = sample_envelope("000124")
    async with signbridge.AsyncClient(config(provider, url)) as client:
        handle = await client.send(envelope)
        print(f"sent {envelope.reference} as {handle}")

        for signer, state in zip(SIGNERS, [State.PARTIALLY_SIGNED, State.COMPLETED]):
            # The control route is plain blocking urllib: run it off the event loop.
            await asyncio.to_thread(sign_in_sandbox, provider, url, handle.id, signer["email"])
            status = await wait_for(client, handle, state)
            print(f"{signer['name']} signed; the envelope is {status.state}")
        assert status.state is State.COMPLETED

        out_dir.mkdir(parents=True, exist_ok=True)
        kinds = [DownloadKind.SIGNED] + ([DownloadKind.EVIDENCE] if provider == "arqsign" else [])
        for kind in kinds:
            name = f"{envelope.reference}-{provider}-{kind.value}.pdf"
            print(await client.download(handle, kind, out_dir / name))


if __name__ == "__main__":
    asyncio.run(main())
