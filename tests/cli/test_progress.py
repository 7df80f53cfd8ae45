"""Progress: Rich bars on a real terminal, plain periodic lines elsewhere, silence with
--quiet and --json."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnistorage.cli._progress import Snapshot, format_duration, make_display
from omnistorage.cli._transfer import Throttle
from tests.cli.conftest import Isolation, ProcessRunner
from tests.cli.processes import Running, transferred
from tests.support.clock import FakeClock

MiB = 1 << 20
# One bar line: phase, the bar, bytes done/total, files, rate, time remaining.
_BAR = re.compile(
    r"transferring\s+━+.*\s(?P<done>[\d.]+)/(?P<total>[\d.]+) MB\s+(?P<files>\d+/\d+) files\s+"
    r"(?P<rate>[\d.]+) MB/s\s+ETA\s+(?P<eta>\d+:\d\d:\d\d)"
)


class Terminal:
    """The command under a pseudo-terminal, its output rendered by a VT100 emulator."""

    def __init__(self, args: list[str], env: dict[str, str], cols: int = 110) -> None:
        self.screen = pyte.Screen(cols, 24)
        self._stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "omnistorage", *args],
            env={**os.environ, **env, "TERM": "xterm-256color", "COLUMNS": str(cols)},
            dimensions=(24, cols),
            # poll(), not select(): a long-lived test worker may hold descriptors past
            # select's 1024 (seen in CI after the Dask cluster tests in the same worker).
            use_poll=True,
        )

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._stream.feed(self.child.read_nonblocking(65536, timeout=0.1))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.2)
            for line in self.screen.display:
                match = pattern.search(line)
                if match is not None:
                    return match
        raise AssertionError("not on screen:\n" + "\n".join(self.screen.display))

    def finish(self, timeout: float = 60) -> int:
        self.child.expect(pexpect.EOF, timeout=timeout)
        self._stream.feed(self.child.before or b"")
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)


def test_cp_on_a_terminal_draws_a_rich_bar_with_bytes_files_rate_and_eta(
    isolation: Isolation, tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(16 * MiB))
    term = Terminal(
        ["cp", "--bwlimit", "8M", str(tmp_path / "big.bin"), str(tmp_path / "out.bin")],
        isolation.env,
    )
    bar = term.wait_for(_BAR)
    assert 0 < float(bar.group("done")) < float(bar.group("total")) == 16.8
    assert bar.group("files") == "0/1"
    assert 5 < float(bar.group("rate")) < 12  # 8 MiB/s = 8.4 MB/s
    assert term.finish() == 0
    assert "copied 1 file(s), 16777216 bytes" in term.text()
    assert (tmp_path / "out.bin").stat().st_size == 16 * MiB


def test_sync_on_a_terminal_draws_the_engine_progress(isolation: Isolation, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        (src / f"f{i}.bin").write_bytes(os.urandom(2 * MiB))
    term = Terminal(
        ["sync", "--bwlimit", "8M", "--transfers", "2", str(src), str(tmp_path / "dst")],
        isolation.env,
    )
    running = re.compile(
        r"^(?P<phase>listing|checking|transferring)\s+━+.*\s(?P<done>[\d.]+)(/[\d.?]+)? MB\s+"
        r"(?P<files>\d+)/(\d+|\?) files\s+[\d.]+ MB/s"
    )
    bar = term.wait_for(running)
    assert 0 < float(bar.group("done")) < 16.8
    assert term.finish() == 0
    assert "sync: copied 8" in term.text()


def test_without_a_terminal_progress_is_plain_periodic_lines(
    isolation: Isolation, tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(6 * MiB))
    running = Running(
        ["cp", "--bwlimit", "8M", "--stats", "0.2", str(tmp_path / "big.bin"), str(tmp_path / "o")],
        env=isolation.env,
    )
    line = running.wait_for(lambda text: transferred(text) > 0)
    assert re.fullmatch(
        r"transferring: [\d.]+ MB / 6\.3 MB \(\d+%\), 0/1 files, [\d.]+ MB/s, ETA [\d.]+s, "
        r"elapsed [\d.]+s",
        line,
    ), line
    code, stdout, stderr = running.finish()
    assert code == 0
    assert stdout == b""
    assert "\x1b[" not in stderr  # no terminal escapes in logs
    lines = stderr.splitlines()
    assert lines[-2].startswith("done: 6.3 MB / 6.3 MB (100%), 1/1 files")
    assert lines[-1].startswith("copied 1 file(s), 6291456 bytes")


def test_a_short_run_without_a_terminal_prints_only_its_summary(
    run: ProcessRunner, tmp_path: Path
) -> None:
    (tmp_path / "a").write_bytes(b"a")
    result = run("cp", str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.stderr.decode().splitlines() == ["copied 1 file(s), 1 bytes in 0.0s"]


def test_quiet_prints_nothing_on_success(run: ProcessRunner, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a" * 1000)
    result = run(
        "cp", "-q", "--stats", "0.01", "--bwlimit", "20k", str(tmp_path / "a"), str(tmp_path / "b")
    )
    assert (result.stdout, result.stderr) == (b"", b"")


def test_json_output_carries_no_progress(run: ProcessRunner, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a" * 1000)
    result = run(
        "cp",
        "--json",
        "--stats",
        "0.01",
        "--bwlimit",
        "20k",
        str(tmp_path / "a"),
        str(tmp_path / "b"),
    )
    assert result.stderr == b""
    assert json.loads(result.stdout)["bytes"] == 1000


def test_plain_lines_show_the_latest_state_on_each_tick() -> None:
    import io

    out = io.StringIO()
    with make_display("lines", stderr=out, interval=0.05) as display:
        display.update(Snapshot(bytes_done=1000, bytes_total=4000, files_done=0, files_total=2))
        deadline = time.monotonic() + 30
        while not out.getvalue():  # the ticker prints within an interval; a busy machine
            assert time.monotonic() < deadline, "the ticker never printed"  # may take longer
            time.sleep(0.01)
        display.update(
            Snapshot(phase="done", bytes_done=4000, bytes_total=4000, files_done=2, files_total=2)
        )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("transferring: 1.0 kB / 4.0 kB (25%), 0/2 files")
    assert lines[-1].startswith("done: 4.0 kB / 4.0 kB (100%), 2/2 files")


def test_durations_read_as_people_write_them() -> None:
    assert [format_duration(s) for s in (3.25, 59.9, 125, 7300)] == [
        "3.2s",
        "59.9s",
        "2m05s",
        "2h01m40s",
    ]


def test_the_throttle_paces_to_the_limit() -> None:
    clock = FakeClock()
    throttle = Throttle(4 * MiB, clock=clock, sleep=clock.sleep)
    for _ in range(8):
        throttle.wait(MiB // 4)
    # 2 MiB at 4 MiB/s: each quarter MiB waits until its 1/16 s is due, 1/2 s in all
    assert clock.sleeps == pytest.approx([1 / 16] * 8)
    assert clock.now - 1000.0 == pytest.approx(1 / 2)


@given(
    rate=st.integers(1, 10 * MiB),
    steps=st.lists(
        st.tuples(st.integers(0, MiB), st.floats(0, 2, allow_nan=False)), min_size=1, max_size=30
    ),
)
def test_the_throttle_is_never_ahead_of_the_limit_and_never_sleeps_longer(
    rate: int, steps: list[tuple[int, float]]
) -> None:
    clock = FakeClock()
    throttle = Throttle(rate, clock=clock, sleep=clock.sleep)
    first = clock.now + steps[0][1]  # the pace counts from the first call
    sent = 0
    for nbytes, work in steps:
        clock.advance(work)  # the time the bytes took to send
        before = clock.now
        throttle.wait(nbytes)
        sent += nbytes
        # never ahead of ``rate`` bytes per second since the first call, and no
        # longer asleep than that needs: it wakes at the due time or does not sleep
        assert clock.now == pytest.approx(max(before, first + sent / rate), rel=1e-12, abs=1e-9)


def test_the_throttle_without_a_limit_never_sleeps() -> None:
    clock = FakeClock()
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        throttle.wait(MiB)
    assert clock.sleeps == []
