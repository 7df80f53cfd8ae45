"""Secrets never reach logs, messages or reprs (issue 9), on every cloud backend.

Each test runs a full session (small and multipart/blocks/resumable writes, reads,
stat, listings, a copy, deletes and a call refused for its credentials) with the
root logger and every SDK logger at DEBUG, then greps everything that was logged
(the formatted ``caplog.text`` and every record's attributes), every exception
message along the cause chain and the reprs for each secret, raw and URL-quoted.
Each also checks that the scrubber did run on SDK records (a ``***`` there), so it
cannot pass because nothing was logged.

S3 runs against moto (which accepts any access key, secret and session token);
the refused call goes to a local endpoint answering ``403 SignatureDoesNotMatch``
the way AWS does (echoing the access key id and the canonical request, session
token included, in the body botocore logs). Azure runs against Azurite with the
account key (connection string) and with a SAS token. GCS runs against
gcp-storage-emulator with an OAuth access token (sent as ``Bearer``); its refused
call is a refresh-token grant the local token endpoint rejects (``invalid_grant``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest

from omnistorage import Store
from omnistorage._redact import SDK_LOGGERS
from omnistorage.errors import ConfigurationError, PermissionDenied
from omnistorage.registry import open_store

MiB = 1 << 20

# ---------------------------------------------------------------- helpers


def variants(secret: str) -> set[str]:
    """``secret`` as it is and in every quoting it may travel in."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), unquote(secret)}
    return {form for form in forms if form}


def assert_absent(secrets: Iterable[str], texts: dict[str, str]) -> None:
    for secret in secrets:
        for form in variants(secret):
            for where, text in texts.items():
                at = text.find(form)
                assert at < 0, f"{form!r} leaked in {where}: …{text[max(0, at - 200) : at + 60]}…"


def exception_texts(exc: BaseException) -> dict[str, str]:
    """``str`` and ``repr`` of ``exc`` and of every exception it chains to."""
    texts: dict[str, str] = {}
    seen: set[int] = set()
    current: BaseException | None = exc
    depth = 0
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts[f"str(exception {depth}: {type(current).__name__})"] = str(current)
        texts[f"repr(exception {depth}: {type(current).__name__})"] = repr(current)
        current = current.__cause__ or current.__context__
        depth += 1
    return texts


def logged(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """Everything logged: the formatted text and every record's attributes (``extra``)."""
    attributes = "\n".join(repr(vars(record)) for record in caplog.records)
    return {"caplog.text": caplog.text, "log record attributes": attributes}


def scrubbed_records(caplog: pytest.LogCaptureFixture, *roots: str) -> list[str]:
    """Messages of the SDK records under ``roots`` in which the scrubber masked something."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.split(".")[0] in roots and "***" in record.getMessage()
    ]


@pytest.fixture
def debug_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> pytest.LogCaptureFixture:
    """The root logger and every SDK logger at DEBUG, all captured by ``caplog``."""
    caplog.set_level(logging.DEBUG)
    for name in SDK_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    # google-auth stops "google" from propagating unless it was configured when it first
    # logged; a user who turns DEBUG on gets its records, so the test must see them too.
    monkeypatch.setattr(logging.getLogger("google"), "propagate", True)
    return caplog


class _Refusing(BaseHTTPRequestHandler):
    """403 for S3 requests (as AWS words ``SignatureDoesNotMatch``), 400 for token grants."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/token"):
            body = json.dumps(
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            ).encode()
            self._send(400, "application/json", body)
            return
        authorization = self.headers.get("Authorization", "")
        key_id = authorization.partition("Credential=")[2].partition("/")[0]
        token = self.headers.get("X-Amz-Security-Token", "")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
            "<Message>The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method.</Message>"
            f"<AWSAccessKeyId>{key_id}</AWSAccessKeyId>"
            f"<CanonicalRequest>HEAD {self.path}\nx-amz-security-token:{token}</CanonicalRequest>"
            "<RequestId>0123456789ABCDEF</RequestId></Error>"
        ).encode()
        self._send(403, "application/xml", body if self.command != "HEAD" else b"")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_endpoint() -> Iterator[str]:
    """A local HTTP endpoint refusing every request for its credentials."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_session(store: Store, big: int) -> None:
    """Write (small and ``big`` bytes), read, stat, list, copy and delete."""
    payload = os.urandom(big)
    store.write("a/small.txt", b"hello")
    store.write("a/big.bin", payload)
    assert store.read_bytes("a/small.txt") == b"hello"
    assert store.read_bytes("a/big.bin") == payload
    assert store.read_range("a/big.bin", 10, 5) == payload[10:15]
    assert store.get_file_info("a/big.bin").size == big
    store.copy("a/small.txt", "b/copy.txt")
    assert sorted(i.path for i in store.list_files(recursive=True)) == [
        "a/big.bin",
        "a/small.txt",
        "b/copy.txt",
    ]
    assert sorted(store.list_folders()) == ["a", "b"]
    store.delete("b/copy.txt")
    store.delete_folder("a", recursive=True)
    assert not store.exists("a/small.txt")


# ---------------------------------------------------------------- S3

S3_KEY_ID = "AKIAOMNIDEBUG7QX2Y4Z"
S3_SECRET = "sk/Debug+Secret=Zq81wXy"
S3_TOKEN = "IQoJb3JpZ2luX2VjE+Debug/Session/Token=="
S3_WRONG_KEY_ID = "AKIAWRONGDEBUG3M5K"
S3_WRONG_SECRET = "wrong/Secret+Key=Ab12"
S3_WRONG_TOKEN = "FwoGZXIvYXdzE+Wrong/Session/Token=="


@pytest.fixture
def s3_bucket() -> Iterator[str]:
    from tests.backends.test_s3 import empty_bucket, new_bucket

    name = new_bucket()
    yield name
    empty_bucket(name)


@pytest.mark.server
def test_s3_debug_session_carries_no_secret(
    s3_bucket: str, debug_log: pytest.LogCaptureFixture, refusing_endpoint: str
) -> None:
    from omnistorage.backends.s3 import S3Backend
    from tests.backends.test_s3 import settings

    endpoint, region = settings()
    credentials = (
        f"access_key_id={quote(S3_KEY_ID, safe='')}"
        f"&secret_access_key={quote(S3_SECRET, safe='')}"
        f"&session_token={quote(S3_TOKEN, safe='')}"
    )
    url = (
        f"s3://{s3_bucket}/t-{uuid.uuid4().hex}?endpoint_url={endpoint}&region={region}"
        f"&addressing_style=path&part_size={5 * MiB}&{credentials}"
    )
    store = open_store(url)
    backend = store.unwrap()
    assert set(backend.secret_values) == {S3_KEY_ID, S3_SECRET, S3_TOKEN}
    run_session(store, 6 * MiB)  # two parts: a multipart upload
    with pytest.raises(ConfigurationError) as typo:
        open_store(url + "&colour=blue")
    with pytest.raises(ConfigurationError) as scheme:
        open_store(url.replace("s3://", "s3x://", 1))
    refused = Store(
        S3Backend(
            bucket=s3_bucket,
            endpoint_url=refusing_endpoint,
            region=region,
            addressing_style="path",
            access_key_id=S3_WRONG_KEY_ID,
            secret_access_key=S3_WRONG_SECRET,
            session_token=S3_WRONG_TOKEN,
            max_attempts=1,
        ),
        "x",
    )
    with pytest.raises(PermissionDenied) as denied:
        refused.get_file_info("missing.txt")
    with pytest.raises(PermissionDenied) as denied_write:
        refused.write("w.txt", b"w")

    messages = [r.getMessage() for r in debug_log.records if r.name.startswith("botocore")]
    assert any("X-Amz-Security-Token" in m for m in messages)  # the token was sent and logged
    assert any("Credential=" in m or "Authorization" in m for m in messages)
    assert any("SignatureDoesNotMatch" in m for m in messages)  # the refusal's body was logged
    assert scrubbed_records(debug_log, "botocore")  # … and scrubbed
    texts = {
        **logged(debug_log),
        **exception_texts(denied.value),
        **exception_texts(denied_write.value),
        **exception_texts(typo.value),
        **exception_texts(scheme.value),
        "repr(store)": repr(store),
        "repr(backend)": repr(backend),
        "repr(refused)": repr(refused),
        "repr(refused backend)": repr(refused.unwrap()),
    }
    assert_absent(
        (S3_KEY_ID, S3_SECRET, S3_TOKEN, S3_WRONG_KEY_ID, S3_WRONG_SECRET, S3_WRONG_TOKEN), texts
    )
    store.close()
    refused.close()


# ---------------------------------------------------------------- Azure


@pytest.fixture
def azure_container() -> Iterator[str]:
    from tests.backends.test_azure import drop_container, make_container

    name = make_container()
    yield name
    drop_container(name)


@pytest.mark.server
def test_azure_debug_session_carries_no_secret(
    azure_container: str, debug_log: pytest.LogCaptureFixture
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    from omnistorage.backends.azure import AzureBackend
    from tests.backends.test_azure import connection_string, cs_fields

    cs = connection_string()
    fields = cs_fields(cs)
    account_key = fields["AccountKey"]
    sas = generate_container_sas(
        fields["AccountName"],
        azure_container,
        account_key=account_key,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    signature = dict(part.split("=", 1) for part in sas.split("&"))["sig"]
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    wrong_cs = cs.replace(account_key, wrong_key)
    wrong_signature = quote("B" * 43 + "=", safe="")
    wrong_sas = sas.replace(f"sig={signature}", f"sig={wrong_signature}")
    options: dict[str, Any] = {"block_size": 1 * MiB, "detect_hierarchical_namespace": False}

    # The account key, through a connection string.
    keyed = Store(
        AzureBackend(container=azure_container, connection_string=cs, **options),
        f"t-{uuid.uuid4().hex}",
    )
    assert account_key in keyed.unwrap().secret_values
    run_session(keyed, 3 * MiB)  # staged blocks and a block list
    # The SAS token, through a URL (the copy's source URL carries the SAS too).
    url = (
        f"az://{azure_container}/t-{uuid.uuid4().hex}"
        f"?account_url={quote(fields['BlobEndpoint'], safe='')}&sas_token={quote(sas, safe='')}"
        f"&block_size={1 * MiB}&detect_hierarchical_namespace=false"
    )
    signed = open_store(url)
    assert signature in signed.unwrap().secret_values
    run_session(signed, 3 * MiB)
    with pytest.raises(ConfigurationError) as typo:
        open_store(url + "&colour=blue")
    with pytest.raises(ConfigurationError) as scheme:
        open_store(url.replace("az://", "azx://", 1))
    # Refused: a wrong account key, and a SAS with a wrong signature.
    wrong_keyed = Store(
        AzureBackend(container=azure_container, connection_string=wrong_cs, retries=0, **options),
        "x",
    )
    with pytest.raises(PermissionDenied) as denied_key:
        wrong_keyed.write("w.txt", b"w")
    wrong_signed = Store(
        AzureBackend(
            container=azure_container,
            account_url=fields["BlobEndpoint"],
            sas_token=wrong_sas,
            retries=0,
            **options,
        ),
        "x",
    )
    with pytest.raises(PermissionDenied) as denied_sas:
        wrong_signed.read_bytes("r.txt")

    urllib3_lines = [r.getMessage() for r in debug_log.records if r.name.startswith("urllib3")]
    assert any("sig" in line or "***" in line for line in urllib3_lines)  # SAS requests logged
    assert scrubbed_records(debug_log, "urllib3")  # … and urllib3's request lines scrubbed
    assert scrubbed_records(debug_log, "azure")
    texts = {
        **logged(debug_log),
        **exception_texts(denied_key.value),
        **exception_texts(denied_sas.value),
        **exception_texts(typo.value),
        **exception_texts(scheme.value),
    }
    for store in (keyed, signed, wrong_keyed, wrong_signed):
        texts[f"repr({store!r})"] = repr(store)
        texts[f"repr(backend {store.root})"] = repr(store.unwrap())
    assert_absent((account_key, cs, sas, signature, wrong_key, wrong_cs, wrong_sas), texts)
    assert_absent((wrong_signature,), texts)
    for store in (keyed, signed, wrong_keyed, wrong_signed):
        store.close()


# ---------------------------------------------------------------- GCS

GCS_TOKEN = "ya29.a0Debug-Bearer_Token.sEcReT/4242"
GCS_REFRESH = "1//0gDebug-Refresh_Token-sEcReT"
GCS_CLIENT_SECRET = "GOCSPX-debug_client_sEcReT"


@pytest.fixture
def gcs_root() -> Iterator[str]:
    from tests.backends.test_gcs import _admin_client, _wipe

    _admin_client()
    prefix = f"tests/{uuid.uuid4().hex}"
    yield prefix
    _wipe(prefix)


@pytest.mark.server
def test_gcs_debug_session_carries_no_secret(
    gcs_root: str, debug_log: pytest.LogCaptureFixture, refusing_endpoint: str
) -> None:
    from google.cloud import storage
    from google.oauth2.credentials import Credentials

    from omnistorage.backends.gcs import GCSBackend
    from tests.backends.test_gcs import BUCKET, CHUNK, _endpoint

    bearer = Credentials(token=GCS_TOKEN)  # type: ignore[no-untyped-call]
    backend = GCSBackend(
        bucket=BUCKET, endpoint_url=_endpoint(), credentials=bearer, chunk_size=CHUNK
    )
    assert GCS_TOKEN in backend.secret_values
    store = Store(backend, gcs_root)
    assert store.unwrap(storage.Client)._credentials is bearer  # the token goes as Bearer
    run_session(store, 3 * CHUNK + 1000)  # a resumable upload in four chunks
    logging.getLogger("google.auth.transport.requests").debug(
        "echo Authorization: Bearer %s", GCS_TOKEN
    )
    with pytest.raises(ConfigurationError) as scheme:
        open_store(f"gsx://{BUCKET}/p?access_token={quote(GCS_TOKEN, safe='')}")
    # Refused: the refresh token is rejected by the token endpoint (invalid_grant).
    expired = Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=GCS_REFRESH,
        client_id="omni-debug-client",
        client_secret=GCS_CLIENT_SECRET,
        token_uri=f"{refusing_endpoint}/token",
    )
    refused = Store(
        GCSBackend(bucket=BUCKET, endpoint_url=_endpoint(), credentials=expired, retries=0),
        gcs_root,
    )
    assert {GCS_REFRESH, GCS_CLIENT_SECRET} <= set(refused.unwrap().secret_values)
    with pytest.raises(PermissionDenied) as denied:
        refused.read_bytes("x")

    assert any(r.name.startswith("google.auth") for r in debug_log.records)
    assert any("/token" in r.getMessage() for r in debug_log.records)  # the grant was tried
    assert "echo Authorization: ***" in debug_log.text
    # The resumable session id (whoever holds the session URI can upload) is masked too.
    assert any("upload_id=***" in line for line in scrubbed_records(debug_log, "urllib3"))
    texts = {
        **logged(debug_log),
        **exception_texts(denied.value),
        **exception_texts(scheme.value),
        "repr(store)": repr(store),
        "repr(backend)": repr(backend),
        "repr(refused)": repr(refused),
        "repr(refused backend)": repr(refused.unwrap()),
    }
    assert_absent((GCS_TOKEN, GCS_REFRESH, GCS_CLIENT_SECRET), texts)
    store.close()
    refused.close()


# ---------------------------------------------------------------- secrets in URLs

URL_SECRET = "Pa%24s-url-secret-77"  # "Pa$s-url-secret-77", quoted


@pytest.mark.parametrize(
    "url",
    [
        "sftpx://bob:{pw}@127.0.0.1/x",
        "s3x://bucket/p?secret_access_key={pw}",
        "s3x://bucket/p?session_token={pw}&access_key_id={pw}",
        "s3://bucket/p?secret_access_key={pw}&colour=blue",
        "s3://AKIDEXAMPLE:{pw}@bucket/p",
        "s3://bucket/p?session_token={pw}&part_size=12",
        "az://bob:{pw}@container/p",
        "azure://bob:{pw}@container/p",
        "abfs://bob:{pw}@/p",
        "abfss://bob:{pw}@account.dfs.core.windows.net/p",
        "azx://container/p?sas_token={pw}",
        "az://container/p?account_key={pw}&colour=blue",
        "az://container/p?connection_string=AccountKey%3D{pw}&colour=blue",
        "gs://bob:{pw}@bucket/p",
        "gcsx://bucket/p?access_token={pw}",
        "sqlblobx://bob:{pw}@127.0.0.1/db",
    ],
)
def test_url_errors_never_show_a_secret(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        open_store(url.format(pw=URL_SECRET))
    assert_absent((URL_SECRET,), exception_texts(info.value))
