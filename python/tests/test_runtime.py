"""How calls behave inside a Python process: the GIL, Ctrl-C, fork."""

from __future__ import annotations

import _thread
import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest
from support import Sandbox, envelope

import signbridge
from signbridge import State

STATUS_PATH = "/tae/documents/v2/publicacoes/*"


def test_the_gil_is_released_during_a_slow_call(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    handle = client.send(envelope("ERP-GIL"))
    sandbox.fault(path=STATUS_PATH, delay_ms=1500)
    ticks = []
    call_over = threading.Event()

    def tick() -> None:
        while not call_over.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    ticker = threading.Thread(target=tick)
    ticker.start()
    started = time.monotonic()
    try:
        assert client.status(handle).state is State.SENT
    finally:
        finished = time.monotonic()
        call_over.set()
        ticker.join()
    during = [t for t in ticks if started + 0.2 < t < finished - 0.2]
    assert finished - started >= 1.4, "the delay fault applied"
    # About 100 ticks fit in the slow second; without the GIL released there would be none.
    assert len(during) > 40, f"only {len(during)} ticks while the call waited"


def test_ctrl_c_interrupts_a_blocking_call(sandbox: Sandbox, client: signbridge.Client) -> None:
    handle = client.send(envelope("ERP-INT"))
    sandbox.fault(path=STATUS_PATH, delay_ms=10_000)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.status(handle)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 1.3, "interrupted within a second"
    # The client is still usable once the fault is gone.
    sandbox.reset()
    assert client.status(handle).state is State.SENT


SIGINT_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import signbridge
    config, handle = json.loads(sys.argv[1]), sys.argv[2]
    client = signbridge.Client(config)
    print("calling", flush=True)
    started = time.monotonic()
    try:
        client.status(handle)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted {time.monotonic() - started:.2f}", flush=True)
    """
)


def test_a_real_sigint_interrupts_a_blocking_call(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    handle = client.send(envelope("ERP-SIGINT"))
    sandbox.fault(path=STATUS_PATH, delay_ms=10_000)
    child = subprocess.Popen(
        [sys.executable, "-c", SIGINT_CHILD, json.dumps(sandbox.config()), handle.to_json()],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "calling"
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=5)
    finally:
        child.kill()
    word, seconds = out.split()
    assert word == "interrupted"
    assert float(seconds) < 1.6, f"took {seconds}s: 0.5 s before SIGINT, then under a second"


def _wait_for_child(pid: int, read_end: int, limit: float) -> tuple[int, str]:
    """The child's exit code and what it wrote; kills it (exit -9) if it hangs."""
    deadline = time.monotonic() + limit
    chunks = []
    while True:
        ready, _, _ = select.select([read_end], [], [], 0.1)
        if ready:
            chunk = os.read(read_end, 4096)
            if chunk:
                chunks.append(chunk)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            while True:
                chunk = os.read(read_end, 4096)
                if not chunk:
                    break
                chunks.append(chunk)
            return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -9, b"".join(chunks).decode()


def test_a_forked_child_gets_a_working_client(
    sandbox: Sandbox, client: signbridge.Client
) -> None:
    handle = client.send(envelope("ERP-FORK"))
    async_client = signbridge.AsyncClient(sandbox.config())
    # The runtime's threads and pooled connections exist before the fork.
    assert client.status(handle).state is State.SENT
    assert asyncio.run(async_client.status(handle)).state is State.SENT
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a multi-threaded process may deadlock the child;
        # surviving that is exactly what this test checks.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            blocking = client.status(handle).state
            awaited = asyncio.run(async_client.status(handle)).state
            os.write(write_end, f"{blocking} {awaited}".encode())
            code = 0
        except BaseException as e:
            os.write(write_end, repr(e).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        exit_code, said = _wait_for_child(pid, read_end, limit=20)
    finally:
        os.close(read_end)
    assert (exit_code, said) == (0, "sent sent")
    # The parent's clients go on working too.
    assert client.status(handle).state is State.SENT
    assert asyncio.run(async_client.status(handle)).state is State.SENT
