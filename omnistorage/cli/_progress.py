"""Showing progress: Rich bars on a terminal, plain periodic lines elsewhere, or nothing.

Progress goes to **stderr**, so stdout carries only a command's result (the bytes
of ``cat``, a ``--json`` report) and stays parseable while bars move. The mode:

- ``bars`` when stderr is a terminal: a Rich progress bar with bytes done and
  total, files done and total, the transfer rate and the time remaining;
- ``lines`` when it is not (a log file, CI): one plain line every ``--stats``
  interval and one at the end, so logs stay readable;
- ``none`` with ``--quiet`` or ``--json``.

Every display takes snapshots shaped like :class:`omnistorage.sync.Progress`
(``phase``, ``files_done``, ``files_total``, ``bytes_done``, ``bytes_total``,
``rate``, ``eta``, ``errors``, ``current``), so the sync engine's progress
callback and the object commands feed the same displays. Displays are safe to
update from any one thread at a time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, TextIO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

__all__ = [
    "Display",
    "Meter",
    "ProgressLike",
    "Snapshot",
    "choose_mode",
    "format_duration",
    "make_display",
]


class ProgressLike(Protocol):
    """What a display reads from a progress snapshot (``omnistorage.sync.Progress`` has it)."""

    @property
    def phase(self) -> str: ...
    @property
    def files_done(self) -> int: ...
    @property
    def files_total(self) -> int | None: ...
    @property
    def bytes_done(self) -> int: ...
    @property
    def bytes_total(self) -> int | None: ...
    @property
    def rate(self) -> float: ...
    @property
    def eta(self) -> float | None: ...
    @property
    def errors(self) -> int: ...
    @property
    def current(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A progress snapshot made by the object and records commands."""

    phase: str = "transferring"
    files_done: int = 0
    files_total: int | None = None
    bytes_done: int = 0
    bytes_total: int | None = None
    rate: float = 0.0
    eta: float | None = None
    errors: int = 0
    current: str | None = None


class Display(Protocol):
    """Shows progress; a context manager that clears up its output on exit."""

    def __enter__(self) -> Display: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def update(self, progress: ProgressLike) -> None:
        """Show ``progress`` (displays may skip updates that come too often)."""

    def message(self, text: str) -> None:
        """Print one line (a warning, a file that failed) without breaking the display."""


def choose_mode(*, quiet: bool, json: bool, stderr_is_tty: bool) -> str:
    """``"none"``, ``"bars"`` or ``"lines"`` (see the module docstring)."""
    if quiet or json:
        return "none"
    return "bars" if stderr_is_tty else "lines"


def make_display(mode: str, *, stderr: TextIO, interval: float, unit: str = "files") -> Display:
    """A display for ``mode`` writing to ``stderr``; ``unit`` names what is counted
    (``"files"``, ``"records"``)."""
    if mode == "bars":
        return _Bars(stderr, unit)
    if mode == "lines":
        return _Lines(stderr, interval, unit)
    if mode == "none":
        return _Silent(stderr)
    raise ValueError(f"unknown progress mode {mode!r}")


def format_duration(seconds: float) -> str:
    """``3.2`` → ``"3.2s"``, ``125`` → ``"2m05s"``, ``7300`` → ``"2h01m40s"``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


class _Silent:
    def __init__(self, stderr: TextIO) -> None:
        self._stderr = stderr

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def update(self, progress: ProgressLike) -> None:
        return None

    def message(self, text: str) -> None:
        print(text, file=self._stderr, flush=True)


class _Bars:
    """A Rich progress bar: description, bar, bytes, files, rate, time remaining."""

    def __init__(self, stderr: TextIO, unit: str) -> None:
        self._unit = unit
        self._console = Console(file=stderr, stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[count]}"),
            TransferSpeedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self._console,
            redirect_stdout=False,
            redirect_stderr=True,  # log records and messages print above the bar
            refresh_per_second=8,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> _Bars:
        self._progress.start()
        self._task = self._progress.add_task("starting", total=None, count="")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def update(self, progress: ProgressLike) -> None:
        if self._task is None:
            return
        total = progress.files_total
        count = f"{progress.files_done}/{'?' if total is None else total} {self._unit}"
        if progress.errors:
            count += f", {progress.errors} error{'s' if progress.errors != 1 else ''}"
        self._progress.update(
            self._task,
            description=progress.phase,
            completed=progress.bytes_done,
            total=progress.bytes_total,
            count=count,
        )

    def message(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)


class _Lines:
    """One plain line every ``interval`` seconds, for logs, printed by a timer (so a
    stalled transfer still shows), and the final state at the end when any line was
    printed (a short run leaves only the command's summary). ``interval`` 0: no
    periodic lines."""

    def __init__(self, stderr: TextIO, interval: float, unit: str) -> None:
        self._stderr = stderr
        self._interval = interval
        self._unit = unit
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._started = time.monotonic()
        self._latest: ProgressLike | None = None
        self._printed: ProgressLike | None = None
        self._any_printed = False

    def __enter__(self) -> _Lines:
        self._started = time.monotonic()
        if self._interval > 0:
            self._ticker = threading.Thread(
                target=self._tick, name="omnistorage-progress", daemon=True
            )
            self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            latest = self._latest
            if latest is not None and self._any_printed and latest is not self._printed:
                self._emit(latest)

    def update(self, progress: ProgressLike) -> None:
        with self._lock:
            self._latest = progress

    def message(self, text: str) -> None:
        with self._lock:
            print(text, file=self._stderr, flush=True)

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._latest is not None:
                    self._emit(self._latest)

    def _emit(self, progress: ProgressLike) -> None:
        self._printed = progress
        self._any_printed = True
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = progress.rate or progress.bytes_done / elapsed
        done = decimal(progress.bytes_done)
        if progress.bytes_total is not None:
            total_bytes = progress.bytes_total
            pct = 100.0 * progress.bytes_done / total_bytes if total_bytes else 100.0
            amount = f"{done} / {decimal(total_bytes)} ({pct:.0f}%)"
        else:
            amount = done
        total = "?" if progress.files_total is None else str(progress.files_total)
        parts = [
            f"{progress.phase}: {amount}",
            f"{progress.files_done}/{total} {self._unit}",
            f"{decimal(int(rate))}/s",
        ]
        eta = progress.eta
        if eta is None and progress.bytes_total is not None and rate > 0:
            eta = max(progress.bytes_total - progress.bytes_done, 0) / rate
        if eta is not None and progress.phase != "done":
            parts.append(f"ETA {format_duration(eta)}")
        if progress.errors:
            parts.append(f"{progress.errors} errors")
        parts.append(f"elapsed {format_duration(elapsed)}")
        print(", ".join(parts), file=self._stderr, flush=True)


class Meter:
    """Counts files and bytes of the object and records commands and feeds a display.

    Every change hands the display a fresh snapshot (displays draw on their own
    clock: Rich's refresh, the plain lines' timer).
    """

    def __init__(
        self,
        display: Display,
        *,
        files_total: int | None,
        bytes_total: int | None,
        phase: str = "transferring",
    ) -> None:
        self._display = display
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.phase = phase
        self.files_done = 0
        self.bytes_done = 0
        self.errors = 0
        self.current: str | None = None
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the meter started."""
        return time.monotonic() - self._started

    def start_file(self, name: str) -> None:
        """A file starts: show its name."""
        self.current = name
        self._push()

    def add(self, nbytes: int) -> None:
        """``nbytes`` more were transferred."""
        self.bytes_done += nbytes
        self._push()

    def file_done(self) -> None:
        """The current file finished."""
        self.files_done += 1
        self._push()

    def file_failed(self, message: str) -> None:
        """The current file failed: count it and print ``message``."""
        self.errors += 1
        self._display.message(message)
        self._push()

    def finish(self) -> None:
        """Everything finished: show the final state (phase ``done``)."""
        self.phase = "done"
        self.current = None
        self._push()

    def snapshot(self) -> Snapshot:
        """The current state."""
        elapsed = max(self.elapsed, 1e-9)
        rate = self.bytes_done / elapsed
        eta = None
        if self.bytes_total is not None and rate > 0:
            eta = max(self.bytes_total - self.bytes_done, 0) / rate
        return Snapshot(
            phase=self.phase,
            files_done=self.files_done,
            files_total=self.files_total,
            bytes_done=self.bytes_done,
            bytes_total=self.bytes_total,
            rate=rate,
            eta=eta,
            errors=self.errors,
            current=self.current,
        )

    def _push(self) -> None:
        self._display.update(self.snapshot())
