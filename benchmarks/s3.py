"""S3 backend throughput vs boto3, s3fs and obstore against moto, in the same run.

    .venv/bin/python benchmarks/s3.py [--size-mib 256] [--objects 10000] [--rss-mib 1024]
                                      [--repeat 3] [--endpoint URL]

Without ``--endpoint`` the script starts its own moto server in a subprocess on a
free loopback port (so the server's CPU and memory are not the client's) and stops
it at the end; ``--endpoint $OMNI_TEST_S3_ENDPOINT`` uses a running one instead.

Measured, best of ``--repeat`` rounds each:

- UPLOAD of one ``--size-mib`` object from a local file: omnistorage ``Store.write``
  (streaming the file) vs boto3 ``upload_file`` (the baseline), s3fs ``put_file``,
  obstore ``put``.
- DOWNLOAD of that object: omnistorage ``read_bytes`` (default single streaming
  GET, and ``read_concurrency=4`` parallel ranged GETs) vs boto3
  ``get_object()['Body'].read()`` (the single-GET ceiling), s3fs ``cat_file``,
  obstore ``get().bytes()``.
- LIST of ``--objects`` keys: omnistorage ``list_files(recursive=True)`` vs the
  boto3 ``ListObjectsV2`` paginator (the baseline), s3fs ``find``, obstore ``list``
  (best of at least 5 rounds).
- RSS growth (``VmRSS`` sampled every 5 ms in a thread) while streaming a
  ``--rss-mib`` object up through ``open_atomic`` (data generated on the fly) and
  down through ``read`` into a SHA-256 (never held in memory).

Targets: upload >= 1.0x ``upload_file``; download >= 0.9x the single GET;
LIST >= 1.0x the paginator; RSS growth < 64 MiB.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
from botocore.config import Config

from omnistorage import Store
from omnistorage.backends.s3 import S3Backend

MiB = 1 << 20
REGION = "us-east-1"
KEY_ID = "bench-key"
SECRET = "bench-secret"


# ---------------------------------------------------------------- plumbing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(endpoint: str | None) -> Iterator[str]:
    """The given endpoint, or a private moto server started (and stopped) by PID."""
    if endpoint:
        yield endpoint
        return
    port = free_port()
    env = dict(os.environ)
    if os.path.isdir("/dev/shm"):
        # moto spools objects over 5 MiB to temporary files: keep them in RAM, so that
        # the numbers measure the clients and the protocol, not this machine's disk.
        env["TMPDIR"] = "/dev/shm"
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in the finally below
        prefix="omni-bench-moto-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"moto server did not start (log: {log.name})") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        os.unlink(log.name)


def best_of(repeat: int, runs: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """The best time of each run over ``repeat`` rounds, the runs interleaved in each
    round (so a slow spell of the server does not fall on one contender only)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


class RssSampler:
    """Peak ``VmRSS`` of this process over a block, sampled in a thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self.start_kib = self.peak_kib = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_kib() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, self.rss_kib())
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self.start_kib = self.peak_kib = self.rss_kib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, self.rss_kib())

    @property
    def growth_mib(self) -> float:
        return (self.peak_kib - self.start_kib) / 1024


def row(name: str, value: float, unit: str, baseline: float | None = None) -> None:
    ratio = f"{value / baseline:6.2f}x" if baseline else ""
    print(f"  {name:<44} {value:10.1f} {unit:<10} {ratio}")


# ---------------------------------------------------------------- the runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rss-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--endpoint", default=None, help="use this S3 endpoint (no own moto)")
    args = parser.parse_args()
    with moto_server(args.endpoint) as endpoint:
        run(endpoint, args)


def run(endpoint: str, args: argparse.Namespace) -> None:
    import obstore
    import s3fs
    from obstore.store import S3Store

    size = args.size_mib * MiB
    repeat = args.repeat
    bucket = f"bench-{uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(max_pool_connections=32),
    )
    client.create_bucket(Bucket=bucket)
    options: dict[str, Any] = {
        "bucket": bucket,
        "endpoint_url": endpoint,
        "region": REGION,
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
    }
    store = Store(S3Backend(**options))
    parallel = Store(S3Backend(**options, read_concurrency=4))
    fs = s3fs.S3FileSystem(
        key=KEY_ID,
        secret=SECRET,
        client_kwargs={"endpoint_url": endpoint, "region_name": REGION},
    )
    obs = S3Store(
        bucket,
        endpoint=endpoint,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    print(f"moto at {endpoint}, bucket {bucket}; best of {repeat}")

    with tempfile.TemporaryDirectory(prefix="omni-bench-s3-") as tmp:
        local = Path(tmp) / "payload.bin"
        block = os.urandom(MiB)
        with open(local, "wb") as f:
            for i in range(args.size_mib):
                f.write(bytes([i % 256]) + block[1:])

        # ------------------------------------------------------------ upload
        print(f"\nUPLOAD {args.size_mib} MiB from a local file (MB/s; ratio vs boto3 upload_file)")

        def up_boto3() -> None:
            client.upload_file(str(local), bucket, "up/boto3.bin")

        def up_omni() -> None:
            with open(local, "rb") as f:
                store.write("up/omni.bin", f, overwrite=True)

        def up_s3fs() -> None:
            fs.put_file(str(local), f"{bucket}/up/s3fs.bin")

        def up_obstore() -> None:
            with open(local, "rb") as f:
                obstore.put(obs, "up/obstore.bin", f)

        t = best_of(
            repeat, {"boto3": up_boto3, "omni": up_omni, "s3fs": up_s3fs, "obstore": up_obstore}
        )
        t_boto3, t_omni, t_s3fs, t_obs = t["boto3"], t["omni"], t["s3fs"], t["obstore"]
        base = size / t_boto3 / 1e6
        row("boto3 upload_file (baseline)", base, "MB/s", base)
        row("omnistorage Store.write (file stream)", size / t_omni / 1e6, "MB/s", base)
        row("s3fs put_file", size / t_s3fs / 1e6, "MB/s", base)
        row("obstore put", size / t_obs / 1e6, "MB/s", base)
        up_ratio = t_boto3 / t_omni

        # ------------------------------------------------------------ download
        print(f"\nDOWNLOAD {args.size_mib} MiB (MB/s; ratio vs one boto3 GetObject read)")
        key = "up/omni.bin"

        def down_boto3() -> None:
            client.get_object(Bucket=bucket, Key=key)["Body"].read()

        def down_omni() -> None:
            store.read_bytes(key)

        def down_omni_stream() -> None:
            digest = hashlib.sha256()
            with store.read(key) as stream:
                while chunk := stream.read(MiB):
                    digest.update(chunk)

        def down_omni_parallel() -> None:
            parallel.read_bytes(key)

        def down_s3fs() -> None:
            fs.cat_file(f"{bucket}/{key}")

        def down_obstore() -> None:
            obstore.get(obs, key).bytes()

        t = best_of(
            repeat,
            {
                "boto3": down_boto3,
                "omni": down_omni,
                "stream": down_omni_stream,
                "parallel": down_omni_parallel,
                "s3fs": down_s3fs,
                "obstore": down_obstore,
            },
        )
        t_boto3, t_omni, t_stream = t["boto3"], t["omni"], t["stream"]
        t_par, t_s3fs, t_obs = t["parallel"], t["s3fs"], t["obstore"]
        base = size / t_boto3 / 1e6
        row("boto3 get_object().read() (ceiling)", base, "MB/s", base)
        row("omnistorage read_bytes (single GET)", size / t_omni / 1e6, "MB/s", base)
        row("omnistorage read() 1 MiB chunks into sha256", size / t_stream / 1e6, "MB/s", base)
        row("omnistorage read_bytes, read_concurrency=4", size / t_par / 1e6, "MB/s", base)
        row("s3fs cat_file", size / t_s3fs / 1e6, "MB/s", base)
        row("obstore get().bytes()", size / t_obs / 1e6, "MB/s", base)
        down_ratio = t_boto3 / t_omni

    # ---------------------------------------------------------------- list
    n = args.objects
    print(f"\nLIST {n} objects (objects/s; ratio vs the boto3 ListObjectsV2 paginator)")
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: client.put_object(Bucket=bucket, Key=f"many/{i:06d}", Body=b""), range(n)
            )
        )

    def list_boto3() -> None:
        count = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/"):
            count += len(page.get("Contents", []))
        assert count == n, count

    def list_omni() -> None:
        count = sum(1 for _ in store.list_files("many", recursive=True))
        assert count == n, count

    def list_s3fs() -> None:
        fs.invalidate_cache()
        count = len(fs.find(f"{bucket}/many/"))
        assert count == n, count

    def list_obstore() -> None:
        count = sum(len(batch) for batch in obstore.list(obs, "many/", chunk_size=1000))
        assert count == n, count

    # Listing rounds are short and moto's listing time swings by +-20 %: take more rounds.
    t = best_of(
        max(repeat, 5),
        {"boto3": list_boto3, "omni": list_omni, "s3fs": list_s3fs, "obstore": list_obstore},
    )
    t_boto3, t_omni, t_s3fs, t_obs = t["boto3"], t["omni"], t["s3fs"], t["obstore"]
    base = n / t_boto3
    row("boto3 paginator (baseline)", base, "objects/s", base)
    row("omnistorage list_files(recursive=True)", n / t_omni, "objects/s", base)
    row("s3fs find", n / t_s3fs, "objects/s", base)
    row("obstore list", n / t_obs, "objects/s", base)
    list_ratio = t_boto3 / t_omni

    # ---------------------------------------------------------------- RSS
    rss_size = args.rss_mib * MiB
    print(f"\nRSS growth while streaming {args.rss_mib} MiB through omnistorage")
    chunk = os.urandom(MiB)
    with RssSampler() as up:
        with store.open_atomic("rss/big.bin", overwrite=True) as writer:
            for i in range(args.rss_mib):
                writer.write(bytes([i % 256]) + chunk[1:])
    with RssSampler() as down:
        digest = hashlib.sha256()
        with store.read("rss/big.bin") as stream:
            got = 0
            while piece := stream.read(MiB):
                digest.update(piece)
                got += len(piece)
    assert got == rss_size, got
    # Both phases against the RSS before the upload (the download reuses freed memory).
    down_growth = (down.peak_kib - up.start_kib) / 1024
    row("upload (open_atomic, 8 MiB parts x 4 in flight)", up.growth_mib, "MiB")
    row("download (read into sha256)", down_growth, "MiB")
    rss = max(up.growth_mib, down_growth)

    print("\nTARGETS")
    print(f"  upload   {up_ratio:5.2f}x boto3 upload_file      (target >= 1.00x)")
    print(f"  download {down_ratio:5.2f}x single GET              (target >= 0.90x)")
    print(f"  list     {list_ratio:5.2f}x boto3 paginator         (target >= 1.00x)")
    print(f"  rss      {rss:5.1f} MiB growth                 (target < 64 MiB)")

    store.close()
    parallel.close()


if __name__ == "__main__":
    main()
