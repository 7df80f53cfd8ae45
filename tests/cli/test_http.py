"""The command over a web server without an index (a store with no listings): files are
read, a missing file is a plain "no such file", never a capability error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.conftest import CliInvoker
from tests.support.nginx import NginxTree, nginx_tree

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def site() -> Iterator[NginxTree]:
    with nginx_tree({"docs/a.txt": b"alpha", "b.bin": bytes(range(256))}) as made:
        yield made


def test_cat_and_get_read_files_over_http(
    cli: CliInvoker, site: NginxTree, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert cli("cat", site.url("files") + "docs/a.txt").stdout_bytes == b"alpha"
    target = tmp_path_factory.mktemp("get") / "b.bin"
    cli("get", site.url("files") + "b.bin", str(target))
    assert target.read_bytes() == bytes(range(256))


def test_a_missing_file_over_http_is_no_such_file(cli: CliInvoker, site: NginxTree) -> None:
    result = cli("cat", site.url("files") + "nope.txt", site.url("files") + "docs/a.txt", expect=1)
    assert result.stdout_bytes == b"alpha"
    assert "nope.txt: no such file or folder" in result.stderr
    assert "not supported" not in result.stderr
