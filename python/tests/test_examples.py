"""The examples in examples/python run as written against the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import Sandbox, sample_pdf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


@pytest.mark.parametrize("provider", ["tae", "arqsign"])
@pytest.mark.parametrize("script", ["signing_flow.py", "signing_flow_async.py"])
def test_the_example_runs(sandbox: Sandbox, tmp_path: Path, script: str, provider: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), provider, sandbox.url],
        env={**os.environ, "SIGNBRIDGE_OUT_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sent RM-")
    files = [Path(line) for line in lines if line.startswith(str(tmp_path))]
    suffixes = ["-signed.pdf"] + (["-evidence.pdf"] if provider == "arqsign" else [])
    assert [f.name.rsplit(provider, 1)[1] for f in files] == suffixes, done.stdout
    assert lines[len(lines) - len(files) - 1].endswith("signed; the envelope is completed")
    for f in files:
        assert f.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("signer", ["python", "software"])
def test_the_idocs_example_runs(sandbox: Sandbox, tmp_path: Path, signer: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "idocs_signing.py"), sandbox.url, "--signer", signer],
        env={**os.environ, "SIGNBRIDGE_OUT_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    sent, state, completed, print_form, archive = done.stdout.splitlines()
    pattern = r"sent KZ-000123 as idocs:example:(\S+), signed by (.+) \((\w+) signer\)"
    match = re.fullmatch(pattern, sent)
    assert match and match.group(3) == signer, sent
    assert state == "the document is sent"
    assert completed.endswith("signed; the document is completed")
    document = sandbox.call("GET", f"/__sandbox/idocs/documents/{match.group(1)}")
    sender, counterparty = document["signatures"]
    assert sender["side"] == "outbox" and not sender["simulated"]
    assert match.group(2) in sender["signer_subject"]
    assert counterparty["side"] == "inbox"
    assert Path(print_form) == tmp_path / "KZ-000123-idocs-signed.pdf"
    assert Path(print_form).read_bytes().startswith(b"%PDF")
    assert Path(archive).read_bytes().startswith(b"PK\x03\x04")


def test_the_sbis_example_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "sbis_edo.py"), sandbox.url],
        env={**os.environ, "SIGNBRIDGE_OUT_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    sent, state, completed, original, archived = done.stdout.splitlines()
    match = re.fullmatch(r"sent RU-000017 as sbis:example:(\S+), signed by (.+)", sent)
    assert match, sent
    assert state == "the document is sent"
    assert completed.endswith("approved; the document is completed")
    document = sandbox.call("GET", f"/__sandbox/sbis/documents/{match.group(1)}")
    # The Cyrillic title and name arrived intact, and the Python signer's CMS was verified.
    assert document["Примечание"] == "Договор поставки № 17 «Премьер»"
    assert document["Контрагент"]["СвЮЛ"]["Название"] == "СК Премьер, ОАО"
    assert document["Состояние"]["Код"] == "7"
    [attachment] = document["Вложение"]
    ours, theirs = attachment["Подпись"]
    assert ours["Направление"] == "Исходящий" and match.group(2) in ours["Сертификат"]["ФИО"]
    assert theirs["Направление"] == "Входящий"
    assert Path(original) == tmp_path / "RU-000017-sbis.pdf"
    assert Path(original).read_bytes().startswith(b"%PDF")
    assert archived == 'archived 1 file(s), signatures ["Исходящий", "Входящий"]'
    index = tmp_path / "sbis-archive" / match.group(1) / "index.json"
    assert index.is_file()


def test_the_readme_snippet_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    [snippet] = [
        block
        for block in re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
        if "sandbox = " in block
    ]
    (tmp_path / "contrato.pdf").write_bytes(sample_pdf("Contrato", 1))
    (tmp_path / "out").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", snippet.replace("http://127.0.0.1:8080", sandbox.url)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    stored, state, refreshed, gone = done.stdout.splitlines()
    assert re.fullmatch(r"store this handle: tae:rm-producao:\d+", stored)
    assert state == "sent ['maria@cliente.com.br: pending']"
    assert refreshed == "sent"
    assert "Documento não encontrado. (HTTP 404)" in gone, "the failed entry prints its error"
    original = (tmp_path / "out" / "original.pdf").read_bytes()
    assert original == (tmp_path / "contrato.pdf").read_bytes()
