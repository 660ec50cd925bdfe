"""Fixtures: one sandbox process for the session (the `signbridge sandbox` CLI), a clean
sandbox for each test, and a TAE client configured for it.

The binary comes from $SIGNBRIDGE_BIN (scripts/test-python.sh sets it), else from PATH.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
from typing import Iterator

import pytest
from support import Sandbox

import signbridge

SANDBOX_START_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    binary = os.environ.get("SIGNBRIDGE_BIN") or shutil.which("signbridge")
    if binary is None:
        pytest.fail("no sandbox binary: set SIGNBRIDGE_BIN to target/debug/signbridge")
    process = subprocess.Popen(
        [binary, "sandbox", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(SANDBOX_START_TIMEOUT):
                pytest.fail("the sandbox printed no URL in time")
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"SIGNBRIDGE_SANDBOX_URL=(http://\S+)", line)
        assert match, f"unexpected first line from the sandbox: {line!r}"
        yield Sandbox(match.group(1))
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(autouse=True)
def clean_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that uses the sandbox starts with no faults and an empty request log."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    box: Sandbox = request.getfixturevalue("sandbox")
    box.reset()
    yield
    box.reset()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[signbridge.Client]:
    with signbridge.Client(sandbox.config()) as c:
        yield c
