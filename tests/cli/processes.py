"""Driving the real command as a background process: watch its progress lines, send
signals."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_AMOUNT = re.compile(r"^(?P<phase>\w+): (?P<num>[\d.]+) (?P<unit>bytes|kB|MB|GB)")
_UNITS = {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


class Running:
    """``python -m omnistorage ARGS`` running with stderr piped (so progress comes as plain
    lines, one every ``--stats`` interval)."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        stdin: int | None = subprocess.DEVNULL,
        cwd: Path | None = None,
    ) -> None:
        full_env = {**os.environ, **env}
        full_env.pop("OMNISTORAGE_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "omnistorage", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
        )
        self.stderr_lines: list[str] = []
        self._pending = b""

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        """Read stderr until a line satisfies ``predicate``; fail on timeout or exit."""
        deadline = time.monotonic() + timeout
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        # poll(), not select(): a long-lived test worker may hold descriptors past 1024.
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while time.monotonic() < deadline:
            if poller.poll(100):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self._pending += chunk
                *complete, self._pending = self._pending.split(b"\n")
                for raw in complete:
                    line = raw.decode(errors="replace")
                    self.stderr_lines.append(line)
                    if predicate(line):
                        return line
        self.proc.kill()
        raise AssertionError(f"no matching progress line; last lines: {self.stderr_lines[-5:]}")

    def interrupt(self, timeout: float = 60) -> tuple[int, bytes, str]:
        """Send SIGINT (Ctrl-C) and wait: (exit code, stdout, all of stderr)."""
        self.proc.send_signal(signal.SIGINT)
        stdout, rest = self.proc.communicate(timeout=timeout)
        stderr = "\n".join(self.stderr_lines) + self._pending.decode(errors="replace")
        return self.proc.returncode, stdout, stderr + rest.decode(errors="replace")

    def finish(self, timeout: float = 60) -> tuple[int, bytes, str]:
        """Wait for the command to end by itself."""
        stdout, rest = self.proc.communicate(timeout=timeout)
        stderr = "\n".join(self.stderr_lines) + self._pending.decode(errors="replace")
        return self.proc.returncode, stdout, stderr + rest.decode(errors="replace")


def transferred(line: str) -> float:
    """Bytes done in a plain progress line (0 for other lines)."""
    match = _AMOUNT.match(line)
    if match is None or match.group("phase") == "done":
        return 0.0
    return float(match.group("num")) * _UNITS[match.group("unit")]
