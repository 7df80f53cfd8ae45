"""The README's code runs as written, and its capability table says what the backends
declare.

Python blocks run in order in one namespace (later blocks use names from earlier
ones), in a fresh working folder. A TOML block is written to ``omni.toml`` there
before the next Python block runs; the one thing changed is the S3 endpoint
(``http://127.0.0.1:9000`` in the README) which becomes the test server's, whose
bucket is created first and whose credentials come from the environment, as the
README says; ``AWS_ENDPOINT_URL`` names the test server, which is where the
README's S3 example says to point it.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

from omnistorage.capabilities import Capability
from tests.support.servers import server_env

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)
README_S3_ENDPOINT = "http://127.0.0.1:9000"


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(README.read_text())]


@pytest.mark.server
def test_readme_code_blocks_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    endpoint = env["OMNI_TEST_S3_ENDPOINT"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "readme-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "readme-secret")
    # The S3 section points boto3 at an endpoint through the environment, as it says.
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", env["OMNI_TEST_S3_REGION"])
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=env["OMNI_TEST_S3_REGION"],
        aws_access_key_id="readme-key",
        aws_secret_access_key="readme-secret",
    )
    blocks = _blocks()
    for _, text in blocks:
        for bucket in re.findall(r'bucket = "([a-z0-9-]+)"', text):
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=bucket)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    ran = 0
    for language, text in blocks:
        if language == "toml":
            (tmp_path / "omni.toml").write_text(text.replace(README_S3_ENDPOINT, endpoint))
        elif language == "python":
            code = compile(text, f"README.md python block {ran + 1}", "exec")
            exec(code, namespace)
            ran += 1
    assert ran >= 4


_ROW = re.compile(r"^\| `(?P<name>[a-z0-9-]+)` \|(?P<cells>.*)\|$", re.MULTILINE)


def _readme_capabilities() -> dict[str, set[str]]:
    text = README.read_text()
    section = text.split("## Backends", 1)[1].split("\n## ", 1)[0]
    header = next(line for line in section.splitlines() if line.startswith("| backend |"))
    columns = [c.strip().strip("`") for c in header.strip("|").split("|")][1:]
    rows: dict[str, set[str]] = {}
    for match in _ROW.finditer(section):
        cells = [c.strip() for c in match.group("cells").split("|")]
        rows[match.group("name")] = {
            col for col, cell in zip(columns, cells, strict=False) if cell == "✓"
        }
    return rows


def _declared(name: str) -> set[str]:
    from omnistorage.backends.memory import MemoryBackend

    if name == "memory":
        features = MemoryBackend().features()
    elif name == "local":
        from omnistorage.backends.local import LocalBackend

        features = LocalBackend(os.getcwd()).features()
    elif name == "sql":
        import tempfile

        from omnistorage.backends.sql import SQLBlobBackend

        features = SQLBlobBackend(f"sqlite:///{tempfile.mkdtemp()}/caps.db").features()
    elif name == "sql-query":
        from omnistorage.backends.sql import SQLQueryBackend

        query_backend = SQLQueryBackend("sqlite://")  # connects only when a key is read
        features = query_backend.features()
        query_backend.close()
    elif name == "http":
        from omnistorage.backends.http import HTTPBackend

        http_backend = HTTPBackend(base_url="http://127.0.0.1:1/")  # sends no request
        features = http_backend.features()
        http_backend.close()
    elif name == "channel":
        from omnistorage.backends.channel import ChannelBackend

        features = ChannelBackend().features()
    else:
        from tests.support import remote

        store = getattr(remote, f"{name}_store")()
        try:
            features = store.features
        finally:
            remote.wipe(store)
    return {c.value for c in features.capabilities}


@pytest.mark.parametrize(
    "name",
    ["memory", "local", "channel", "s3", "gcs", "azure", "sftp", "http", "sql", "sql-query"],
)
def test_readme_capability_rows_match_the_declared_features(name: str) -> None:
    rows = _readme_capabilities()
    assert name in rows, f"no README capability row for {name}"
    columns = {c.value for c in Capability}
    assert rows[name] == _declared(name) & columns


def test_readme_names_every_port_override_of_the_test_servers() -> None:
    script = (README.parent / "scripts" / "servers.sh").read_text()
    overrides = set(re.findall(r"\$\{(OMNI_[A-Z]+_PORT):-", script))
    assert overrides, "scripts/servers.sh lost its port overrides"
    text = README.read_text()
    missing = sorted(name for name in overrides if f"`{name}`" not in text)
    assert not missing, f"README.md does not name {missing}"
