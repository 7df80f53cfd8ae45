"""HTTP listings are outside input: hostile indexes (a gzip bomb of a name, names no key
can have, folders that lead back up) and symbolic-link loops on the real nginx. A
listing parses in linear time and bounded memory, descends only into folders a key can
lie below, ends on loops, and counts everything it refuses on ``invalid_count``."""

from __future__ import annotations

import gzip
import json
import os
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import Store
from omnistorage.backends.http import HTTPBackend
from omnistorage.backends.http._listing import CONFIRM_STEPS, MAX_ENTRY_CHARS
from omnistorage.errors import StorageError
from tests.support.hostile_http import HostileServer, Reply, Request
from tests.support.nginx import NginxTree, nginx_tree

STAMP = "Mon, 01 Jan 2024 00:00:00 GMT"


def _file(name: str, size: int = 1, mtime: str = STAMP) -> dict[str, Any]:
    return {"name": name, "type": "file", "mtime": mtime, "size": size}


def _folder(name: str, mtime: str = STAMP) -> dict[str, Any]:
    return {"name": name, "type": "directory", "mtime": mtime}


@dataclass
class Indexes:
    """Answers each folder URL with the index ``index(path)`` gives (``None``: 404)."""

    index: Any
    encoding: str = "identity"
    paths: list[str] = field(default_factory=list)

    def script(self, request: Request, reply: Reply) -> None:
        path = unquote(request.path.split("?")[0])
        self.paths.append(path)
        body = self.index(path)
        if body is None:
            reply.send(404, {}, b"")
            return
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.encoding == "gzip":
            body = gzip.compress(body, 9)
            headers["Content-Encoding"] = "gzip"
        reply.send(200, headers, body)


def _listing(server: HostileServer, **options: Any) -> Store:
    return Store(HTTPBackend(base_url=f"{server.url}/", listing="nginx-json", **options))


# ------------------------------------------------------------------ size and time


def _bomb(name_bytes: int) -> bytes:
    return (
        b'[{"name":"before.txt","type":"file","size":1},{"name":"'
        + b"n" * name_bytes
        + b'","type":"file","size":1},{"name":"after.txt","type":"file","size":1}]'
    )


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_an_index_holding_one_huge_name_parses_in_linear_time_and_bounded_memory(
    encoding: str,
) -> None:
    """A 64 KiB gzip index holding one 64 MiB name kept the old parser busy for over 30 s
    (it re-decoded a growing buffer) and its memory grew with the name."""
    body = _bomb(64 << 20)
    indexes = Indexes(lambda path: body if path == "/" else None, encoding)
    with HostileServer(indexes.script) as server:
        store = _listing(server)
        tracemalloc.start()
        started = time.perf_counter()
        try:
            listing = store.list_files(recursive=True)
            found = [info.path for info in listing]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        seconds = time.perf_counter() - started
    assert found == ["before.txt", "after.txt"]
    assert listing.invalid_count == 1
    assert listing.invalid[0].startswith("nnnn")
    assert listing.invalid[0].endswith("…")
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB"
    assert seconds < 20, f"{seconds:.1f} s"


def test_parsing_time_grows_linearly_with_the_name() -> None:
    """8x the name, at most about 8x the time (the old parser: 64x). Timed in CPU seconds
    of the parsing thread: other processes on a loaded machine do not count."""
    timings = []
    for size in (2 << 20, 16 << 20):
        body = _bomb(size)
        with HostileServer(Indexes(lambda path, b=body: b if path == "/" else None).script) as s:
            store = _listing(s)
            started = time.thread_time()
            assert len(list(store.list_files())) == 2
            timings.append(time.thread_time() - started)
    assert timings[1] < 24 * max(timings[0], 0.01), timings


def test_an_entry_just_under_the_limit_is_parsed_and_one_over_is_skipped() -> None:
    fits = "f" * (MAX_ENTRY_CHARS - 64)
    over = "o" * (MAX_ENTRY_CHARS + 1)
    index = [_file(fits), _file(over), _file("z.txt")]
    with HostileServer(Indexes(lambda p: index if p == "/" else None).script) as server:
        listing = _listing(server).list_files()
        names = [info.path for info in listing]
    # the long name is not a key (over 1024 bytes): the Store counts it, the parser read it
    assert names == ["z.txt"]
    assert listing.invalid_count == 2
    assert listing.invalid[0] == fits


def test_invalid_json_inside_an_entry_is_a_clear_error() -> None:
    body = b'[{"name":"a","type":"file"},{"name": "b", bad},' + b" " * 70_000 + b"]"
    with HostileServer(Indexes(lambda p: body if p == "/" else None).script) as server:
        with pytest.raises(StorageError, match="invalid JSON"):
            list(_listing(server).list_files())


# ------------------------------------------------------------------ names


BAD_NAMES = [".", "..", "", "a/b", "tab\there", "back\\slash", "x" * 1100]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
@pytest.mark.parametrize("recursive", [True, False])
def test_a_folder_no_key_can_lie_below_is_never_descended_and_is_counted(
    name: str, recursive: bool
) -> None:
    """Every folder URL answers the same index (so ``./`` would repeat forever and
    ``../`` would climb out): the refused folder is counted once, never requested."""
    index = [_folder(name), _file("ok.txt")]
    indexes = Indexes(lambda path: index)
    with HostileServer(indexes.script) as server:
        store = _listing(server)
        if recursive:
            files = store.list_files(recursive=True)
            listed, count = [info.path for info in files], files.invalid_count
        else:
            folders = store.list_folders()
            listed, count = list(folders), folders.invalid_count
    assert listed == (["ok.txt"] if recursive else [])
    assert count == 1
    assert indexes.paths == ["/"]


@pytest.mark.parametrize("entry", [{"name": 7, "type": "file"}, {"type": "file"}, {"name": ""}])
def test_an_entry_without_a_usable_name_is_counted(entry: dict[str, Any]) -> None:
    index = [entry, _file("ok.txt")]
    with HostileServer(Indexes(lambda path: index if path == "/" else None).script) as server:
        listing = _listing(server).list_files(recursive=True)
        assert [info.path for info in listing] == ["ok.txt"]
    assert listing.invalid_count == 1


# ------------------------------------------------------------------ loops


def test_folders_that_lead_back_up_end_the_walk() -> None:
    """Every folder answers the index of the root (two links back up, as nginx shows a
    symbolic link to '.'): each link is confirmed in at most CONFIRM_STEPS requests and
    counted, and the files are listed once."""
    index = [_folder("again"), _folder("more"), _file("a.txt")]
    indexes = Indexes(lambda path: index)
    with HostileServer(indexes.script) as server:
        listing = _listing(server).list_files(recursive=True)
        assert [info.path for info in listing] == ["a.txt"]
    assert listing.invalid_count == 2
    assert len(indexes.paths) <= 1 + 2 * (1 + CONFIRM_STEPS)


@pytest.mark.parametrize("depth", [2, 5, CONFIRM_STEPS + 1, CONFIRM_STEPS + 2])
def test_folders_that_only_look_like_their_ancestors_are_listed(depth: int) -> None:
    """``x/x/…/x/data.csv`` made within one second: every folder but the last has the
    same index (one folder ``x``, one date), yet none is a loop. Up to CONFIRM_STEPS + 1
    such levels are told from a loop; a deeper chain is taken for one, and counted."""

    def index(path: str) -> list[dict[str, Any]] | None:
        level = path.strip("/").count("x") if path != "/" else 0
        if path.strip("/") not in ("/".join(["x"] * level), ""):
            return None
        if level < depth:
            return [_folder("x")]
        return [_file("data.csv")] if level == depth else None

    indexes = Indexes(index)
    with HostileServer(indexes.script) as server:
        listing = _listing(server).list_files(recursive=True)
        found = [info.path for info in listing]
    if depth <= CONFIRM_STEPS + 1:
        assert found == ["/".join(["x"] * depth + ["data.csv"])]
        assert listing.invalid_count == 0
    else:
        assert found == []
        assert listing.invalid == ["x/"]  # not silent: a sync over it deletes nothing


# A model: a finite tree of folders and files, plus links that lead back to an ancestor.
_NAMES = st.sampled_from(["a", "b", "c", "d.txt", "e.txt", "f"])


@st.composite
def _trees(draw: Any, depth: int = 0) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name in draw(st.lists(_NAMES, max_size=4, unique=True)):
        if depth < 3 and draw(st.booleans()):
            tree[name] = draw(_trees(depth + 1))
        elif draw(st.integers(0, 4)) == 0 and depth > 0:
            tree[name] = ("link", draw(st.integers(1, depth)))  # up this many levels
        else:
            tree[name] = ("file", len(name))
    return tree


def _expected(tree: dict[str, Any], prefix: str = "") -> tuple[list[str], int]:
    files, links = [], 0
    for name, node in tree.items():
        if isinstance(node, dict):
            more, counted = _expected(node, f"{prefix}{name}/")
            files += more
            links += counted
        elif node[0] == "file":
            files.append(prefix + name)
        else:
            links += 1
    return files, links


def _resolve(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The folder a URL path names, following links up as the server would."""
    trail = [tree]
    for part in [p for p in path.strip("/").split("/") if p]:
        node = trail[-1].get(part)
        if isinstance(node, dict):
            trail.append(node)
        elif isinstance(node, tuple) and node[0] == "link":
            trail.append(trail[-1 - node[1]])
        else:
            return None
    return trail[-1]


def _index(
    folder: dict[str, Any], tree: dict[str, Any], stamps: dict[int, int]
) -> list[dict[str, Any]]:
    """nginx's index of ``folder``: a link shows as a folder dated like its target (each
    real folder has its own date here)."""
    out = []
    for name, node in folder.items():
        if isinstance(node, tuple) and node[0] == "file":
            out.append(_file(name, node[1]))
            continue
        target = node if isinstance(node, dict) else _link_target(tree, folder, node[1])
        stamp = stamps.setdefault(id(target), len(stamps))
        out.append(_folder(name, f"Mon, 01 Jan 2024 00:{stamp // 60:02d}:{stamp % 60:02d} GMT"))
    return out


def _link_target(tree: dict[str, Any], folder: dict[str, Any], up: int) -> dict[str, Any]:
    trail = _trail_to(tree, folder)
    assert trail is not None
    return trail[-1 - up]


def _trail_to(node: dict[str, Any], wanted: dict[str, Any]) -> list[dict[str, Any]] | None:
    if node is wanted:
        return [node]
    for child in node.values():
        if isinstance(child, dict):
            found = _trail_to(child, wanted)
            if found is not None:
                return [node, *found]
    return None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=_trees())
def test_any_tree_with_links_back_up_lists_each_file_once(tree: dict[str, Any]) -> None:
    files, links = _expected(tree)

    stamps: dict[int, int] = {}

    def index(path: str) -> list[dict[str, Any]] | None:
        folder = _resolve(tree, path)
        return None if folder is None else _index(folder, tree, stamps)

    indexes = Indexes(index)
    with HostileServer(indexes.script) as server:
        listing = _listing(server).list_files(recursive=True)
        assert sorted(info.path for info in listing) == sorted(files)
    assert listing.invalid_count == links


# ------------------------------------------------------------------ the real nginx


@pytest.fixture
def looped() -> Iterator[NginxTree]:
    with nginx_tree({"a.txt": b"a", "sub/b.txt": b"b", "sub/deep/c.txt": b"c"}) as tree:
        os.symlink(".", tree.file("loop"))  # to itself
        os.symlink("..", tree.file("sub/up"))  # to its parent
        os.symlink("../..", tree.file("sub/deep/top"))  # two levels up
        yield tree


@pytest.mark.server
def test_symbolic_link_loops_on_nginx_end_the_walk(looped: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=looped.url("listing"), listing="nginx-json"))
    started = time.perf_counter()
    listing = store.list_files(recursive=True)
    found = sorted(info.path for info in listing)
    assert found == ["a.txt", "sub/b.txt", "sub/deep/c.txt"]
    assert listing.invalid_count == 3
    assert time.perf_counter() - started < 10
    assert sorted(info.path for info in store.glob("**/*.txt")) == found
