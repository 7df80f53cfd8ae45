"""The azure backend against Azurite: the conformance suite, the model test, failure tests.

Needs the Azurite server from ``scripts/servers.sh`` (``OMNI_TEST_AZURE_CONNECTION_STRING``).
Each conformance class gets its own container and every test a unique root prefix.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import SplitResult, quote, unquote, urlsplit

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_container_sas,
)

from omnistorage import Store
from omnistorage.backends.azure import AzureBackend, AzureCopyFailed, parse_url
from omnistorage.backends.azure._writer import BlockBlobWriter as _BlockBlobWriter
from omnistorage.capabilities import Capability
from omnistorage.driver import WriteOptions
from omnistorage.errors import (
    BackendUnavailable,
    ConfigurationError,
    ErrorKind,
    NotFound,
    PermissionDenied,
    StorageError,
)
from omnistorage.models import HashType
from omnistorage.registry import open_store
from omnistorage.testing import (
    SLOW_SERVER_WRAPPER_VARIANTS,
    StoreConformance,
    driver_of,
    make_state_machine,
    race,
)
from tests.support.proxy import CuttingProxy
from tests.support.servers import server_env

pytestmark = pytest.mark.server

ENV = "OMNI_TEST_AZURE_CONNECTION_STRING"
KiB = 1024
MiB = 1024 * KiB


def connection_string() -> str:
    return server_env(ENV)[ENV]


def cs_fields(cs: str) -> dict[str, str]:
    fields = {}
    for part in cs.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name] = value
    return fields


def make_container() -> str:
    name = f"omni-{uuid.uuid4().hex[:20]}"
    with BlobServiceClient.from_connection_string(connection_string()) as service:
        service.create_container(name)
    return name


def drop_container(name: str) -> None:
    with BlobServiceClient.from_connection_string(connection_string()) as service:
        with contextlib.suppress(ResourceNotFoundError):
            service.delete_container(name)


def backend(container: str, **options: Any) -> AzureBackend:
    options.setdefault("connection_string", connection_string())
    return AzureBackend(container=container, **options)


def unique_root() -> str:
    return f"t-{uuid.uuid4().hex}"


@pytest.fixture(scope="class")
def container() -> Iterator[str]:
    name = make_container()
    yield name
    drop_container(name)


# ---------------------------------------------------------------- conformance


_AZURITE_KEEPS_BLOCKS = (
    "Azurite keeps the blocks of a deleted uncommitted-only blob: Put Block List still "
    "finds them (Azure drops uncommitted blocks with the blob)"
)


class TestAzureConformance(StoreConformance):
    backend_name = "azure"
    variants = (*StoreConformance.variants, *SLOW_SERVER_WRAPPER_VARIANTS)
    crash_leaves_leftovers = True
    abandoned_write_size = 3 << 20  # past the 1 MiB blocks: blocks are staged
    expected_failures: ClassVar[Mapping[str, str]] = {
        "test_a_discarded_stage_is_gone": _AZURITE_KEEPS_BLOCKS,
        "test_a_failed_publish_is_a_storage_error": _AZURITE_KEEPS_BLOCKS,
        "test_a_create_only_publish_keeps_another_writers_object": (
            "Azurite answers a create-only Put Blob over a name that holds only uncommitted "
            "blocks with BlobAlreadyExists (such a name has no blob on Azure)"
        ),
    }
    # 1 MiB blocks: the 3 MiB and 6 MiB suite objects go through staged blocks + commit.
    # 50 blobs per listing page, so the many-keys test still pages (6 pages). It is lowered
    # from 1100 to keep the runtime down and Azurite's churn low: Azurite's in-memory
    # garbage collector frees deleted blobs in time quadratic in their number, blocking
    # the emulator (about 12 s per 2,300 freed blobs, minutes for 10,000).
    many_keys = 300
    # What azcopy or an SDK can name a blob: Azure refuses dot segments and turns a
    # backslash into "/".
    foreign_names = ("/leading.txt", "a//b.txt", "tab\there.txt", "new\nline.txt")

    def plant_foreign(self, store: Store, name: str, data: bytes) -> None:
        backend = driver_of(store)
        assert isinstance(backend, AzureBackend)
        container = backend.as_native(ContainerClient)
        assert container is not None
        container.upload_blob(f"{store.root}/{name}" if store.root else name, data)

    @pytest.fixture
    def empty_store(self, container: str) -> Store:
        return Store(backend(container, block_size=1 * MiB, list_page_size=50), unique_root())

    def second_handle(self, store: Store) -> Store:
        first = driver_of(store)
        assert isinstance(first, AzureBackend)
        return Store(backend(first.container), store.root)


_MODEL: dict[str, AzureBackend] = {}


def _model_store() -> Store:
    if "backend" not in _MODEL:
        _MODEL["backend"] = backend(
            f"omni-model-{uuid.uuid4().hex[:12]}", create_container=True, list_page_size=3
        )
    return Store(_MODEL["backend"], unique_root())


TestAzureModel = make_state_machine(_model_store, max_examples=20).TestCase


@pytest.fixture(scope="module", autouse=True)
def _drop_model_container() -> Iterator[None]:
    yield
    model = _MODEL.pop("backend", None)
    if model is not None:
        drop_container(model.container)
        model.close()


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("block_size", "total", "cut"),
    [
        pytest.param(256 * KiB, 2 * MiB, 384 * KiB, id="staged-blocks"),
        pytest.param(4 * MiB, 1 * MiB, 512 * KiB, id="single-put"),
    ],
)
def test_connection_cut_mid_upload_publishes_nothing(
    container: str, block_size: int, total: int, cut: int
) -> None:
    cs = connection_string()
    endpoint = urlsplit(cs_fields(cs)["BlobEndpoint"])
    root = unique_root()
    assert endpoint.hostname is not None
    assert endpoint.port is not None
    with CuttingProxy(endpoint.hostname, endpoint.port) as proxy:
        proxied = cs.replace(endpoint.netloc, f"127.0.0.1:{proxy.port}")
        service = BlobServiceClient.from_connection_string(proxied, retry_total=0)
        store = Store(
            AzureBackend(
                container=container,
                service_client=service,
                block_size=block_size,
                max_concurrency=1,
                detect_hierarchical_namespace=False,
            ),
            root,
        )
        assert cs_fields(cs)["AccountKey"] in store.unwrap().secret_values
        proxy.cut_after(upstream_bytes=cut)
        piece = os.urandom(64 * KiB)
        with pytest.raises(StorageError) as info, store.open_atomic("cut.bin") as writer:
            for _ in range(total // len(piece)):
                writer.write(piece)
        assert proxy.cuts >= 1
        assert info.value.temporary, info.value
        assert isinstance(info.value, BackendUnavailable)
        service.close()
    direct = Store(backend(container), root)
    assert not direct.exists("cut.bin")
    assert list(direct.list_files(recursive=True)) == []
    with pytest.raises(NotFound):
        direct.read_bytes("cut.bin")


def test_exception_inside_open_atomic_with_staged_blocks_publishes_nothing(container: str) -> None:
    store = Store(backend(container, block_size=64 * KiB), unique_root())
    with pytest.raises(RuntimeError), store.open_atomic("staged.bin") as writer:
        for _ in range(5):
            writer.write(os.urandom(64 * KiB))  # five blocks staged, none committed
        raise RuntimeError("fail inside the block")
    assert not store.exists("staged.bin")
    assert list(store.list_files(recursive=True)) == []
    # Blocks were really staged: the service knows an uncommitted blob, hidden from us.
    names = [
        b.name
        for b in store.unwrap(ContainerClient).list_blobs(
            name_starts_with=f"{store.root}/", include=["uncommittedblobs"]
        )
    ]
    assert names == [f"{store.root}/staged.bin"]


@pytest.mark.parametrize(
    ("block_size", "size"),
    [
        pytest.param(8 * MiB, 100, id="single-put"),
        pytest.param(64 * KiB, 200 * KiB, id="staged-blocks"),
    ],
)
def test_racing_create_only_writers_have_one_winner(
    container: str, block_size: int, size: int
) -> None:
    store = Store(backend(container, block_size=block_size), unique_root())
    payloads = [bytes([i]) * size for i in range(16)]

    def stream(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        with store.open_atomic("race.bin") as writer:
            for start in range(0, size, 32 * KiB):
                writer.write(payloads[i][start : start + 32 * KiB])

    race(stream, threads=16).assert_one_winner(store, "race.bin", payloads.__getitem__)


def test_staged_upload_reports_md5_and_metadata(container: str) -> None:
    store = Store(backend(container, block_size=64 * KiB, max_concurrency=3), unique_root())
    data = os.urandom(300 * KiB)
    when = datetime(2021, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    store.write(
        "big.bin",
        iter([data[i : i + 10 * KiB] for i in range(0, len(data), 10 * KiB)]),
        content_type="application/x-test",
        metadata={"owner": "team_a"},
        modified=when,
    )
    info = store.get_file_info("big.bin")
    assert info.size == len(data)
    assert info.hashes[HashType.MD5] == hashlib.md5(data).hexdigest()
    assert info.content_type == "application/x-test"
    assert dict(info.metadata) == {"owner": "team_a"}
    assert info.modified == when
    listed = {i.path: i for i in store.list_files()}
    assert listed["big.bin"].modified == when
    assert listed["big.bin"].hashes[HashType.MD5] == hashlib.md5(data).hexdigest()
    assert store.read_bytes("big.bin") == data
    assert store.read_range("big.bin", 70 * KiB, 100 * KiB) == data[70 * KiB : 170 * KiB]


def test_copy_keeps_content_type_metadata_and_md5(container: str) -> None:
    store = Store(backend(container), unique_root())
    store.write("a.txt", b"hello", content_type="text/plain", metadata={"k": "v"})
    store.copy("a.txt", "b/c.txt")
    info = store.get_file_info("b/c.txt")
    assert (info.content_type, dict(info.metadata)) == ("text/plain", {"k": "v"})
    assert info.hashes[HashType.MD5] == hashlib.md5(b"hello").hexdigest()


def test_invalid_metadata_fails_before_io(container: str) -> None:
    store = Store(backend(container), unique_root())
    for metadata in ({"has-dash": "x"}, {"k": "caf\u00e9"}, {"k": " padded"}, {"mtime": "x"}):
        with pytest.raises(StorageError):
            store.write("m.txt", b"x", metadata=metadata)
    with pytest.raises(StorageError):
        store.write("m.txt", b"x", metadata={"Owner": "a", "owner": "b"})
    assert list(store.list_files(recursive=True)) == []


def test_delete_many_batches_and_ignores_missing(
    container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(backend(container), unique_root())
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.write(f"d/{i:03d}", b"x"), range(300)))
    driver = store.unwrap(AzureBackend)
    single: list[str] = []
    real_delete = driver.delete

    def counting_delete(key: str) -> None:
        single.append(key)
        real_delete(key)

    monkeypatch.setattr(driver, "delete", counting_delete)
    doomed = [f"{store.root}/d/{i:03d}" for i in range(280)]  # two batches: 256 + 24
    driver.delete_many([*doomed, f"{store.root}/ghost/x"])
    assert sorted(i.path for i in store.list_files("d")) == [f"d/{i}" for i in range(280, 300)]
    assert single == []  # Azurite accepts Blob Batch: no one-by-one fallback was needed
    store.delete_folder("d", recursive=True)
    assert list(store.list_files(recursive=True)) == []


def test_read_past_the_end_and_zero_length(container: str) -> None:
    store = Store(backend(container), unique_root())
    store.write("r.bin", b"0123456789")
    driver = store.unwrap(AzureBackend)
    key = f"{store.root}/r.bin"
    assert driver.new_reader(key, offset=25).read() == b""
    assert driver.new_reader(key, offset=10).read() == b""
    assert driver.new_reader(key, offset=3, length=0).read() == b""
    with pytest.raises(ResourceNotFoundError):
        driver.new_reader(f"{store.root}/missing", offset=3, length=0)


def test_hierarchical_namespace_is_not_detected_on_azurite(container: str) -> None:
    store = Store(backend(container), unique_root())
    assert not store.supports(Capability.MOVE)
    store.write("m.txt", b"x")
    store.move("m.txt", "n.txt")  # copy + delete fallback
    assert store.read_bytes("n.txt") == b"x"
    assert not store.exists("m.txt")


class _FakeService:
    """Just enough of a BlobServiceClient for hierarchical-namespace detection."""

    def __init__(self, url: str, answer: object) -> None:
        self.url = url
        self.account_name = "acct"
        self._answer = answer

    def get_container_client(self, name: str) -> _FakeService:
        return self

    def get_account_information(self, **options: Any) -> dict[str, object]:
        if isinstance(self._answer, Exception):
            raise self._answer
        return {"is_hns_enabled": self._answer}


@pytest.mark.parametrize(
    ("url", "answer", "expected"),
    [
        ("https://acct.blob.core.windows.net/", True, True),
        ("https://acct.blob.core.windows.net/", False, False),
        ("https://acct.blob.core.windows.net/", None, False),
        ("https://acct.blob.core.windows.net/", HttpResponseError("forbidden"), False),
        ("https://acct.blob.core.windows.net/", ServiceRequestError("down"), False),
        ("http://127.0.0.1:10000/devstoreaccount1", True, False),  # no dfs endpoint
    ],
)
def test_hierarchical_namespace_detection(url: str, answer: object, expected: bool) -> None:
    fake: Any = _FakeService(url, answer)
    driver = AzureBackend(container="c", service_client=fake)
    assert driver.features().supports(Capability.MOVE) is expected
    assert (
        AzureBackend(container="c", service_client=fake, detect_hierarchical_namespace=False)
        .features()
        .supports(Capability.MOVE)
        is False
    )


# ---------------------------------------------------------------- credentials and URLs


def test_open_store_from_url_with_connection_string(container: str) -> None:
    cs = connection_string()
    root = unique_root()
    url = f"az://{container}/{root}?connection_string={quote(cs, safe='')}&block_size=65536"
    with open_store(url) as store:
        assert store.unwrap(AzureBackend)._block_size == 65536
        store.write("u.txt", b"via url")
        assert store.root == root
        assert store.native_path("u.txt") == f"az://{container}/{root}/u.txt"
    assert Store(backend(container), root).read_bytes("u.txt") == b"via url"


def test_connection_string_from_the_environment(
    container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string())
    with open_store(f"azure://{container}/{unique_root()}") as store:
        store.write("env.txt", b"env")
        assert store.read_bytes("env.txt") == b"env"


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(ConfigurationError, match="no account"):
        AzureBackend(container="c")
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    with pytest.raises(ConfigurationError, match="azure-identity"):
        AzureBackend(container="c", account_name="acct")
    with pytest.raises(ConfigurationError, match="unknown option"):
        open_store("az://c/p?bogus=1&connection_string=x")
    with pytest.raises(ConfigurationError, match="excludes"):
        AzureBackend(container="c", connection_string="x", account_key="k")
    with pytest.raises(ConfigurationError):
        AzureBackend(container="c", account_name="a", account_key="k", sas_token="s")
    with pytest.raises(ConfigurationError):
        AzureBackend(container="", account_name="a", account_key="k")
    with pytest.raises(ConfigurationError):
        AzureBackend(container="c", account_name="a", account_key="k", block_size=0)


def test_parse_url() -> None:
    assert parse_url(urlsplit("az://data/logs/2024")) == ({"container": "data"}, "logs/2024")
    assert parse_url(urlsplit("azure://data")) == ({"container": "data"}, "")
    assert parse_url(urlsplit("abfs://data@acct.dfs.core.windows.net/x/y/")) == (
        {"container": "data", "account_url": "https://acct.blob.core.windows.net"},
        "x/y",
    )
    for bad in ("az:///path", "abfs://acct.dfs.core.windows.net/x"):
        split: SplitResult = urlsplit(bad)
        with pytest.raises(ConfigurationError):
            parse_url(split)


def test_sas_token_works_and_stays_secret(container: str, caplog: pytest.LogCaptureFixture) -> None:
    fields = cs_fields(connection_string())
    sas = generate_container_sas(
        fields["AccountName"],
        container,
        account_key=fields["AccountKey"],
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    driver = AzureBackend(
        container=container,
        account_url=fields["BlobEndpoint"],
        sas_token=sas,
        detect_hierarchical_namespace=False,
    )
    signature = dict(p.split("=", 1) for p in sas.split("&"))["sig"]
    assert signature in driver.secret_values
    caplog.set_level(logging.DEBUG)
    store = Store(driver, unique_root())
    store.write("s.txt", b"sas")
    store.copy("s.txt", "t.txt")  # the copy source URL carries the SAS
    assert store.read_bytes("t.txt") == b"sas"
    assert sorted(i.path for i in store.list_files()) == ["s.txt", "t.txt"]
    bad = sas.replace(f"sig={signature}", f"sig={quote('A' * 43 + '=', safe='')}")
    broken = Store(
        AzureBackend(
            container=container,
            account_url=fields["BlobEndpoint"],
            sas_token=bad,
            detect_hierarchical_namespace=False,
        ),
        store.root,
    )
    with pytest.raises(PermissionDenied) as info:
        broken.read_bytes("s.txt")
    for secret in (signature, "A" * 43, sas, bad):
        assert secret not in str(info.value)
        assert secret not in repr(broken.unwrap())
    # The Azure SDK's request logging redacts the SAS, and omnistorage's scrubber also
    # masks it in urllib3's own DEBUG request lines (which carry the query verbatim).
    azure_logs = [r.getMessage() for r in caplog.records if r.name.startswith("azure")]
    assert any("Request URL" in line for line in azure_logs)
    urllib3_logs = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("***" in line for line in urllib3_logs)
    for line in [*azure_logs, *urllib3_logs, caplog.text]:
        assert signature not in line
        assert unquote(signature) not in line


def test_account_key_never_appears_in_messages_or_logs(
    container: str, caplog: pytest.LogCaptureFixture
) -> None:
    fields = cs_fields(connection_string())
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    bad_cs = connection_string().replace(fields["AccountKey"], wrong_key)
    caplog.set_level(logging.DEBUG)
    driver = AzureBackend(container=container, connection_string=bad_cs)
    store = Store(driver, unique_root())
    for call in (lambda: store.read_bytes("x"), lambda: store.write("x", b"x")):
        with pytest.raises(PermissionDenied) as info:
            call()
        assert wrong_key not in str(info.value)
        assert bad_cs not in str(info.value)
    assert wrong_key not in repr(driver)
    assert wrong_key not in repr(store)
    assert wrong_key not in caplog.text
    assert wrong_key in driver.secret_values
    assert bad_cs in driver.secret_values
    # with the right key, no log line carries it either
    good = Store(backend(container), unique_root())
    good.write("y", b"y")
    assert fields["AccountKey"] not in caplog.text


def test_as_native(container: str) -> None:
    store = Store(backend(container), unique_root())
    assert isinstance(store.unwrap(BlobServiceClient), BlobServiceClient)
    assert store.unwrap(ContainerClient).container_name == container
    assert store.to_key(f"azure://{container}/{store.root}/k") == "k"


def test_missing_container_with_create_container(container: str) -> None:
    name = f"omni-new-{uuid.uuid4().hex[:12]}"
    store = Store(backend(name, create_container=True), "")
    try:
        store.write("x", b"x")
        assert store.read_bytes("x") == b"x"
    finally:
        drop_container(name)
    with pytest.raises(NotFound):
        Store(backend(f"omni-none-{uuid.uuid4().hex[:8]}"), "").read_bytes("x")


# ---------------------------------------------------------------- no server needed


def test_classify_error() -> None:
    driver = AzureBackend(container="c", account_name="a", account_key="a2V5")

    def http(status: int, code: str | None = None) -> HttpResponseError:
        error = HttpResponseError(f"status {status}")
        error.status_code = status
        error.error_code = code  # type: ignore[attr-defined]
        return error

    def coded(error: HttpResponseError, code: str) -> HttpResponseError:
        error.error_code = code  # type: ignore[attr-defined]
        return error

    cases: list[tuple[BaseException, ErrorKind, bool]] = [
        (ResourceNotFoundError("x"), ErrorKind.NOT_FOUND, False),
        (ResourceExistsError("x"), ErrorKind.ALREADY_EXISTS, False),
        (coded(ResourceExistsError("x"), "BlobAlreadyExists"), ErrorKind.ALREADY_EXISTS, False),
        (coded(ResourceExistsError("x"), "LeaseAlreadyPresent"), ErrorKind.UNKNOWN, False),
        (coded(ResourceExistsError("x"), "ContainerBeingDeleted"), ErrorKind.UNAVAILABLE, True),
        (IncompleteReadError("x"), ErrorKind.UNAVAILABLE, True),
        (HttpResponseError("no response"), ErrorKind.UNKNOWN, False),
        (ResourceModifiedError("x"), ErrorKind.PRECONDITION_FAILED, False),
        (ClientAuthenticationError("x"), ErrorKind.PERMISSION_DENIED, False),
        (http(403), ErrorKind.PERMISSION_DENIED, False),
        (http(412), ErrorKind.PRECONDITION_FAILED, False),
        (http(429), ErrorKind.UNAVAILABLE, True),
        (http(500), ErrorKind.UNAVAILABLE, True),
        (http(503), ErrorKind.UNAVAILABLE, True),
        (http(400, "InvalidBlockList"), ErrorKind.CONFLICT, True),
        (http(400, "InvalidMetadata"), ErrorKind.UNKNOWN, False),
        (ServiceRequestError("x"), ErrorKind.UNAVAILABLE, True),
        (ServiceResponseError("x"), ErrorKind.UNAVAILABLE, True),
        (FileExistsError("x"), ErrorKind.ALREADY_EXISTS, False),
        (AzureCopyFailed("x"), ErrorKind.UNKNOWN, False),
    ]
    for exc, kind, temporary in cases:
        got = driver.classify_error(exc)
        assert (got.kind, got.temporary) == (kind, temporary), exc


class _SlowBlob:
    """Records how many stage_block calls run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.staged: dict[str, bytes] = {}
        self.committed: list[str] | None = None

    def stage_block(self, block_id: str, data: bytes, length: int) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
            self.staged[block_id] = data

    def commit_block_list(self, blocks: list[Any], **kwargs: Any) -> None:
        self.committed = [b.id for b in blocks]


@pytest.mark.parametrize("max_concurrency", [1, 3])
def test_writer_keeps_at_most_max_concurrency_blocks_in_flight(max_concurrency: int) -> None:
    blob = _SlowBlob()
    fake: Any = blob
    writer = _BlockBlobWriter(
        fake,
        "k",
        WriteOptions(overwrite=True),
        None,
        block_size=1000,
        max_concurrency=max_concurrency,
    )
    data = os.urandom(20_500)
    for start in range(0, len(data), 700):
        writer.write(data[start : start + 700])
        assert writer._pool.in_flight <= max_concurrency
    writer.close()
    assert blob.peak <= max_concurrency
    assert blob.committed is not None
    assert len(blob.committed) == 21
    assert b"".join(blob.staged[i] for i in blob.committed) == data


def test_writer_abort_waits_and_commits_nothing() -> None:
    blob = _SlowBlob()
    fake: Any = blob
    writer = _BlockBlobWriter(fake, "k", WriteOptions(), None, block_size=100, max_concurrency=2)
    writer.write(b"x" * 450)
    writer.abort()
    writer.abort()
    assert blob.committed is None
    assert writer._pool.in_flight == 0


def test_a_failed_block_fails_the_write() -> None:
    class Failing(_SlowBlob):
        def stage_block(self, block_id: str, data: bytes, length: int) -> None:
            raise ServiceResponseError("connection reset")

    fake: Any = Failing()
    writer = _BlockBlobWriter(fake, "k", WriteOptions(), None, block_size=10, max_concurrency=2)
    with pytest.raises(ServiceResponseError):
        for _ in range(10):
            writer.write(b"y" * 10)
        writer.close()
    writer.abort()
    assert fake.committed is None
