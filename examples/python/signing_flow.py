"""The whole signing flow with the blocking client, against the local sandbox, for TAE or
ArqSign: send a contract to two signers in order, have each one sign, poll until the envelope
is completed, download the signed PDF (and, from ArqSign, its evidence report) and print the
paths (to ./out, or $SIGNBRIDGE_OUT_DIR). Only the configuration differs between providers.

    cargo run -p signbridge-cli -- sandbox --port 8080 &
    python examples/python/signing_flow.py tae http://127.0.0.1:8080
    python examples/python/signing_flow.py arqsign http://127.0.0.1:8080
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sandbox_helpers import SIGNERS, arguments, config, sample_envelope, sign_in_sandbox

import signbridge
from signbridge import DownloadKind, State

POLL_EVERY = 0.2
POLL_LIMIT = 30.0


def wait_for(
    client: signbridge.Client, handle: signbridge.Handle, state: State
) -> signbridge.Status:
    """Polls until the envelope is in `state`. (Some providers also report each party.)"""
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        status = client.status(handle)
        if status.state is state:
            return status
        if status.state.is_terminal or time.monotonic() > deadline:
            raise SystemExit(f"the envelope is {status.state}, not {state}")
        time.sleep(POLL_EVERY)


def main() -> None:
    provider, url = arguments()
    out_dir = Path(os.environ.get("SIGNBRIDGE_OUT_DIR", "out"))
    envelope = sample_envelope("000123")
    with signbridge.Client(config(provider, url)) as client:
        client.validate(envelope)  # every check send makes first; a ValidationError names the field
        handle = client.send(envelope)
        # Keep str(handle) (or handle.to_json()) in the ERP record to come back to it later.
        print(f"sent {envelope.reference} as {handle}")

        for signer, state in zip(SIGNERS, [State.PARTIALLY_SIGNED, State.COMPLETED]):
            # In real life the party signs on the provider's page; here a control route does.
            sign_in_sandbox(provider, url, handle.id, signer["email"])
            status = wait_for(client, handle, state)
            print(f"{signer['name']} signed; the envelope is {status.state}")
        assert status.state is State.COMPLETED

        out_dir.mkdir(parents=True, exist_ok=True)
        # Ask the provider's capability record rather than guess: ArqSign has an evidence report.
        offered = client.capability.download.kinds
        for kind in [k for k in (DownloadKind.SIGNED, DownloadKind.EVIDENCE) if k in offered]:
            name = f"{envelope.reference}-{provider}-{kind.value}.pdf"
            print(client.download(handle, kind, out_dir / name))


if __name__ == "__main__":
    main()
