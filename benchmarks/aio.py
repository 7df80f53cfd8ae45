"""Many concurrent small S3 requests from asyncio: omnistorage.aio vs the async peers.

    .venv/bin/python benchmarks/aio.py [--objects 1000] [--size 4096] [--repeat 5]
                                       [--workers 16] [--endpoint URL]

Without ``--endpoint`` the script starts a private moto server in a subprocess on a free
loopback port (``benchmarks/s3.py``'s plumbing), so the server's CPU is not the
client's; ``--endpoint $OMNI_TEST_S3_ENDPOINT`` uses a running one.

Workload: ``--objects`` PUTs of ``--size`` random bytes, all started at once with
``asyncio.gather`` (each round under a fresh prefix), then as many GETs of objects
written beforehand. Contenders, each measured in the same run, rounds interleaved with
the order rotated every round, best round reported:

- ``ours offload``: :class:`omnistorage.aio.AsyncStore` over
  :class:`~omnistorage.aio.SyncBackendAdapter` over the sync S3 driver (boto3), the
  ``aio`` S3 default: ``await store.write(key, data)`` (create-only, as by default) and
  ``await store.read_bytes(key)``; ``--workers`` threads.
- ``boto3 offload by hand``: ``loop.run_in_executor`` of ``put_object`` /
  ``get_object()['Body'].read()`` on a pool of ``--workers`` threads: the ceiling of
  thread offload.
- ``same, our client`` (an anchor, not a peer): the same hand loop with the boto3
  client our S3 driver built (its retry mode, timeouts and pool), so that the
  difference to ``ours offload`` is the cost of our layers alone.
- ``aiobotocore by hand``: the native async botocore client (aiohttp), connection pool
  of 64, ``put_object`` / ``get_object`` + ``read``: the ceiling of a native driver
  built on it (one would reuse the sync driver's botocore error classification).
- ``obstore async``: ``obstore.put_async`` / ``get_async`` + ``bytes_async`` (Rust).

Printed per contender: operations per second (wall), client CPU per operation (this
process only: moto runs in another), and the ratio against the best peer. Target: ours
>= 1.0x the best peer.

Reading the numbers: moto is one Python process serving every request on a 2-core
machine shared with the client, so it is the bottleneck for everyone and wall-clock
rates converge on its ceiling (a few hundred requests per second); client CPU per
operation says more about what each client would cost against a real S3 endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3 import moto_server

from omnistorage.aio import AsyncStore, SyncBackendAdapter
from omnistorage.backends.s3 import S3Backend

REGION = "us-east-1"
KEY_ID = "bench-key"
SECRET = "bench-secret"

Round = Callable[[str], Awaitable[None]]


@dataclass
class Result:
    wall: float = float("inf")
    cpu: float = float("inf")


def uptime() -> str:
    with open("/proc/loadavg") as f:
        return "load average " + " ".join(f.read().split()[:3])


def boto3_client(endpoint: str, pool: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(max_pool_connections=pool, s3={"addressing_style": "path"}),
    )


async def measure(rounds: int, contenders: dict[str, Round]) -> dict[str, Result]:
    """Best wall and CPU time of each contender, rounds interleaved, the order rotated
    each round: a contender that follows obstore finds moto slower (its connections
    linger), so no contender may always come after the same one."""
    best = {name: Result() for name in contenders}
    order = list(contenders.items())
    for number in range(rounds):
        shift = number % len(order)
        for name, run in order[shift:] + order[:shift]:
            tag = f"r{number}-{uuid4().hex[:8]}"
            wall, cpu = time.perf_counter(), time.process_time()
            await run(tag)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            result = best[name]
            result.wall = min(result.wall, wall)
            result.cpu = min(result.cpu, cpu)
    return best


async def run(args: argparse.Namespace, endpoint: str) -> None:
    n, size = args.objects, args.size
    payloads = [os.urandom(size) for _ in range(n)]
    bucket = f"bench-aio-{uuid4().hex[:10]}"
    plain = boto3_client(endpoint, 64)
    plain.create_bucket(Bucket=bucket)
    keys = [f"get/{i:05d}" for i in range(n)]
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: plain.put_object(Bucket=bucket, Key=keys[i], Body=payloads[i]), range(n)
            )
        )

    # ours: AsyncStore over the sync S3 driver on the adapter's threads
    backend = S3Backend(
        bucket=bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        addressing_style="path",
    )
    ours = AsyncStore(SyncBackendAdapter(backend, max_workers=args.workers))

    # boto3 by hand on a pool of the same size
    loop = asyncio.get_running_loop()
    hand_pool = ThreadPoolExecutor(args.workers)
    hand = boto3_client(endpoint, max(16, args.workers))
    from botocore.client import BaseClient

    own_client: Any = ours.unwrap(BaseClient)

    # aiobotocore by hand
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    session = get_session()
    aio_cm = session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=AioConfig(max_pool_connections=64, s3={"addressing_style": "path"}),
    )
    aio_client = await aio_cm.__aenter__()

    # obstore
    import obstore
    from obstore.store import S3Store

    ob = S3Store(
        bucket,
        endpoint=endpoint,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    async def ours_put(tag: str) -> None:
        await asyncio.gather(*(ours.write(f"{tag}/{i}", payloads[i]) for i in range(n)))

    async def ours_get(tag: str) -> None:
        await asyncio.gather(*(ours.read_bytes(key) for key in keys))

    async def hand_put(tag: str) -> None:
        def put(i: int) -> None:
            hand.put_object(Bucket=bucket, Key=f"{tag}/{i}", Body=payloads[i])

        await asyncio.gather(*(loop.run_in_executor(hand_pool, put, i) for i in range(n)))

    async def hand_get(tag: str) -> None:
        def get(key: str) -> bytes:
            return bytes(hand.get_object(Bucket=bucket, Key=key)["Body"].read())

        await asyncio.gather(*(loop.run_in_executor(hand_pool, get, key) for key in keys))

    async def own_put(tag: str) -> None:
        def put(i: int) -> None:
            own_client.put_object(Bucket=bucket, Key=f"{tag}/{i}", Body=payloads[i])

        await asyncio.gather(*(loop.run_in_executor(hand_pool, put, i) for i in range(n)))

    async def own_get(tag: str) -> None:
        def get(key: str) -> bytes:
            return bytes(own_client.get_object(Bucket=bucket, Key=key)["Body"].read())

        await asyncio.gather(*(loop.run_in_executor(hand_pool, get, key) for key in keys))

    async def aio_put(tag: str) -> None:
        await asyncio.gather(
            *(
                aio_client.put_object(Bucket=bucket, Key=f"{tag}/{i}", Body=payloads[i])
                for i in range(n)
            )
        )

    async def aio_get(tag: str) -> None:
        async def get(key: str) -> bytes:
            response = await aio_client.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as body:
                return bytes(await body.read())

        await asyncio.gather(*(get(key) for key in keys))

    async def ob_put(tag: str) -> None:
        await asyncio.gather(*(obstore.put_async(ob, f"{tag}/{i}", payloads[i]) for i in range(n)))

    async def ob_get(tag: str) -> None:
        async def get(key: str) -> bytes:
            result = await obstore.get_async(ob, key)
            return bytes(await result.bytes_async())

        await asyncio.gather(*(get(key) for key in keys))

    # Check once that every contender reads the right bytes before timing anything.
    assert await ours.read_bytes(keys[1]) == payloads[1]
    await ours_get("warm")
    await hand_get("warm")
    await aio_get("warm")
    await ob_get("warm")

    print(
        f"{n:,} concurrent {size:,} B requests, best of {args.repeat}, {args.workers} threads "
        f"for the offload paths; {uptime()} before"
    )
    print()
    print(
        f"{'op':5} {'contender':26} {'ops/s':>8} {'wall s':>7} {'CPU us/op':>10} "
        f"{'x best peer':>12}  target"
    )
    print("-" * 84)
    for op, contenders in (
        (
            "PUT",
            {
                "ours offload": ours_put,
                "boto3 offload by hand": hand_put,
                "same, our client": own_put,
                "aiobotocore by hand": aio_put,
                "obstore async": ob_put,
            },
        ),
        (
            "GET",
            {
                "ours offload": ours_get,
                "boto3 offload by hand": hand_get,
                "same, our client": own_get,
                "aiobotocore by hand": aio_get,
                "obstore async": ob_get,
            },
        ),
    ):
        results = await measure(args.repeat, contenders)
        anchors = ("ours offload", "same, our client")
        peers = {name: r for name, r in results.items() if name not in anchors}
        best_peer = min(r.wall for r in peers.values())
        for name, result in results.items():
            ratio = best_peer / result.wall
            target = ""
            if name == "ours offload":
                target = ">= 1.00x " + ("met" if ratio >= 1.0 else "MISSED")
            print(
                f"{op:5} {name:26} {n / result.wall:8,.0f} {result.wall:7.2f} "
                f"{result.cpu / n * 1e6:10,.0f} {ratio:11.2f}x  {target}"
            )
        print()
    print(
        f"ours native: no native async S3 driver; see the docstring of "
        f"omnistorage.aio.open_store. {uptime()} after"
    )

    await aio_cm.__aexit__(None, None, None)
    await ours.close()
    hand_pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--endpoint", default=None)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs (other work makes numbers noisy)"
    )
    with moto_server(args.endpoint) as endpoint:
        asyncio.run(run(args, endpoint))


if __name__ == "__main__":
    main()
