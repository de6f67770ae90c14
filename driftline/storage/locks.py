"""The one lock design of driftline's state: a lock that dies with its holder.

On the local file system (and NFSv4) it is an OS lock, `fcntl.flock` on a lock file that is
never deleted: the kernel releases it when the holder exits, however it exits (kill -9, a
full disk), so a lock can never be stale. On other fsspec file systems (a bucket), where no OS
lock exists, it is a lease: a file created exclusively that names its owner (pid, host) and an
expiry the holder renews while it holds it; a lease whose expiry passed, or whose owner is a
process of this host that no longer exists, is broken by the next taker.

Hand-written: no library here covers both (`filelock` has no leases on fsspec). The registry
(aliases and version claims) and the retraining ledger take their locks here.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from driftline.errors import LockTimeout

LEASE_SECONDS = 60.0
_POLL_S = 0.05
HOST = socket.gethostname()


def _owner(purpose: str) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": HOST,
        "purpose": purpose,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class Held:
    """A lock being held; `release()` (or leaving the `with`) frees it."""

    def __init__(self, release: Any) -> None:
        self._release = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


def _flock(path: Path, purpose: str, timeout: float | None) -> Held | None:
    """flock `path` (created if missing); None when `timeout` passes (0: do not wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+b")
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                fh.close()
                return None
            time.sleep(_POLL_S)
    with suppress(OSError):  # who holds it, for a person looking; a full disk must not matter
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(_owner(purpose)).encode())
        fh.flush()

    def release() -> None:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()

    return Held(release)


def describe_holder(fs: Any, path: str) -> str:
    """Who a lock file names as its holder (best effort, for error messages)."""
    try:
        info = json.loads(fs.cat_file(path) or b"{}")
    except (OSError, ValueError):
        return "unknown holder"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"


class _Lease:
    """A lease file on a remote file system, renewed by a thread while held."""

    def __init__(self, fs: Any, path: str, purpose: str, ttl: float) -> None:
        self.fs, self.path, self.purpose, self.ttl = fs, path, purpose, ttl
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        return json.dumps({**_owner(self.purpose), "token": self.token,
                           "expires": time.time() + self.ttl}).encode()  # fmt: skip

    def stale(self) -> bool:
        """Whether the lease on file may be broken: expired, its owner dead, or unreadable."""
        try:
            info = json.loads(self.fs.cat_file(self.path))
        except FileNotFoundError:
            return False
        except (OSError, ValueError):  # torn by a crash (or a full disk) while being written
            return True
        if float(info.get("expires", 0)) < time.time():
            return True
        return info.get("host") == HOST and not pid_alive(int(info.get("pid", 0)))

    def try_take(self, broken: bool = False) -> bool:
        try:
            with self.fs.open(self.path, "xb") as fh:
                fh.write(self._body())
        except FileExistsError:
            if not broken and self.stale():
                with suppress(FileNotFoundError):
                    self.fs.rm_file(self.path)
                return self.try_take(broken=True)
            return False
        except OSError:
            with suppress(OSError):
                self.fs.rm_file(self.path)
            raise
        self._thread = threading.Thread(target=self._renew, name="lease", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            with suppress(OSError):
                self.fs.pipe_file(self.path, self._body())

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with suppress(OSError, ValueError):
            if json.loads(self.fs.cat_file(self.path)).get("token") == self.token:
                self.fs.rm_file(self.path)


def acquire(
    fs: Any, path: str, *, purpose: str, timeout: float | None, ttl: float = LEASE_SECONDS
) -> Held | None:
    """Take the lock at `path` on `fs`: waits up to `timeout` s (None: forever, 0: not at all);
    None when it is still held by a live holder then."""
    if fs is None or isinstance(fs, LocalFileSystem):
        return _flock(Path(path), purpose, timeout)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    lease = _Lease(fs, path, purpose, ttl)
    deadline = None if timeout is None else time.monotonic() + timeout
    while not lease.try_take():
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(_POLL_S)
    return Held(lease.release)


@contextmanager
def locked(fs: Any, path: str, *, purpose: str, timeout: float, what: str) -> Iterator[None]:
    """Hold the lock for the body; LockTimeout naming `what` and the holder after `timeout`."""
    held = acquire(fs, path, purpose=purpose, timeout=timeout)
    if held is None:
        holder = describe_holder(fs or LocalFileSystem(), path)
        raise LockTimeout(
            f"{what} is locked by a running process ({holder}, lock file {path}); "
            "it is released when that process finishes or ends"
        )
    try:
        yield
    finally:
        held.release()
