"""Case 5: a kill -9 at any write of register or promote, and locks left by dead processes.

A forked child runs the operation with every mutating file call counted; at the k-th it
SIGKILLs itself (no `finally`, no cleanup: what kill -9 does). k runs over every write the
operation makes. Afterwards the parent checks the invariants and that the next normal command
works at once: no stale lock, no staging folder or claim of the dead writer left.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faultkit import assert_invariants, assert_next_command_works, fit, meta, registry_with_champion
from sklearn.pipeline import Pipeline

from driftline.storage import locks
from driftline.storage.ledger import RetrainingLedger
from driftline.storage.registry import CHAMPION, PREVIOUS, ModelRegistry

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def model() -> Pipeline:
    return fit()


@pytest.fixture
def registry(tmp_path: Path, model: Pipeline) -> ModelRegistry:
    return registry_with_champion(tmp_path / "registry", model)


def _count_writes(registry: ModelRegistry, kill_at: int, counter: list[int]) -> None:
    """Make every mutating file call of this process count; SIGKILL at the `kill_at`-th."""

    def counted(fn: Callable[..., Any], is_write: Callable[..., bool] = lambda *a, **k: True):
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if is_write(*args, **kwargs):
                counter[0] += 1
                if counter[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)

        return wrapper

    fs = registry.fs
    for name in ("pipe_file", "put_file", "mv", "rm", "rm_file", "makedirs"):
        setattr(fs, name, counted(getattr(fs, name)))
    writing = lambda path, mode="rb", *a, **k: any(c in mode for c in "wax+")  # noqa: E731
    fs.open = counted(fs.open, writing)
    os.rename = counted(os.rename)
    os.replace = counted(os.replace)
    pathlib.Path.write_bytes = counted(pathlib.Path.write_bytes)


def _child(root: str, op: str, kill_at: int, report: str, model: Pipeline) -> None:
    registry = ModelRegistry(root)
    counter = [0]
    _count_writes(registry, kill_at, counter)
    if op == "register":
        registry.register(model, meta(), status="blessed")
    else:
        registry.promote("v0002", reason="better", expected="v0001", gated_against="v0001")
    Path(report).write_text(str(counter[0]))


def _run(root: Path, op: str, kill_at: int, model: Pipeline) -> int | None:
    """Run `op` in a forked child killed at write `kill_at` (0: never); the writes it made
    when it was not killed, else None."""
    report = root.parent / f"writes-{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_child, args=(str(root), op, kill_at, str(report), model))
    proc.start()
    proc.join(60)
    if proc.exitcode == -signal.SIGKILL:
        return None
    assert proc.exitcode == 0, f"child failed with exit code {proc.exitcode}"
    return int(report.read_text())


def _fresh(tmp_path: Path, model: Pipeline, op: str) -> ModelRegistry:
    registry = ModelRegistry(tmp_path / f"registry-{uuid.uuid4().hex[:6]}")
    registry.promote(registry.register(model, meta(), status="blessed").version, reason="first")
    if op == "promote":
        registry.register(model, meta(), status="blessed")
    return registry


@pytest.mark.parametrize("op", ["register", "promote"])
def test_a_kill_at_any_write_leaves_a_consistent_registry(
    tmp_path: Path, model: Pipeline, op: str
) -> None:
    total = _run(Path(_fresh(tmp_path, model, op).root), op, 0, model)
    assert total and total >= 4, total
    for kill_at in range(1, total + 1):
        registry = _fresh(tmp_path, model, op)
        assert _run(Path(registry.root), op, kill_at, model) is None, f"not killed at {kill_at}"
        assert_invariants(registry)
        champion = registry.aliases()[CHAMPION]
        if op == "register":
            assert champion == "v0001"
            assert [v.version for v in registry.versions()] in (["v0001"], ["v0001", "v0002"])
        else:
            assert champion in ("v0001", "v0002")
            if champion == "v0002":
                assert registry.aliases()[PREVIOUS] == "v0001"
        start = time.monotonic()
        assert_next_command_works(registry, model)
        assert time.monotonic() - start < 10, "the next command waited on a dead writer's lock"


def test_a_lock_file_left_by_a_dead_process_does_not_block(
    registry: ModelRegistry, model: Pipeline
) -> None:
    """What the create-exclusive lock of older versions left after a kill -9 (or a full disk
    while writing it): the file stays, but nobody holds it."""
    (Path(registry.root) / ".lock").write_text("pid 999999 since 2026-11-30T00:00:00+00:00")
    registry.register(model, meta(), status="blessed")
    start = time.monotonic()
    registry.promote("v0002", reason="better")
    assert time.monotonic() - start < 5
    assert_invariants(registry)


def test_a_holder_killed_with_the_lock_frees_it(registry: ModelRegistry, model: Pipeline) -> None:
    lock = str(Path(registry.root) / ".lock")
    code = (
        "import sys, time; from driftline.storage import locks\n"
        f"held = locks.acquire(None, {lock!r}, purpose='t', timeout=5)\n"
        "print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
        held = json.loads((Path(registry.root) / ".lock").read_text())
        assert held["pid"] == proc.pid  # the lock file names its holder
        assert (
            locks.acquire(None, str(Path(registry.root) / ".lock"), purpose="t", timeout=0) is None
        )
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    registry.register(model, meta(), status="blessed")
    registry.promote("v0002", reason="after the kill")
    assert_invariants(registry)


def test_leftovers_of_a_crashed_writer_are_swept(registry: ModelRegistry, model: Pipeline) -> None:
    root = Path(registry.root)
    (root / ".staging" / "v0002-deadbeef").mkdir(parents=True)
    (root / ".staging" / "v0002-deadbeef" / "model.joblib").write_bytes(b"half a model")
    (root / ".claims").mkdir(exist_ok=True)
    (root / ".claims" / "v0002").write_text("999999")
    assert registry.sweep() == [".staging/v0002-deadbeef", ".claims/v0002"]
    assert_next_command_works(registry, model)


def test_a_lease_of_a_dead_process_on_a_bucket_is_broken(model: Pipeline) -> None:
    """Remote registries (fsspec) hold a lease naming its owner; a dead owner's is broken."""
    registry = ModelRegistry(f"memory://faults-{uuid.uuid4().hex[:8]}")
    try:
        lease = {"pid": 999999, "host": locks.HOST, "token": "x", "expires": time.time() + 3600}
        registry.fs.pipe_file(f"{registry.root}/.lock", json.dumps(lease).encode())
        start = time.monotonic()
        registry.promote(registry.register(model, meta(), status="blessed").version, reason="x")
        assert time.monotonic() - start < 5
        registry.fs.pipe_file(f"{registry.root}/.lock", b"")  # torn by a full disk
        registry.register(model, meta(), status="blessed")
        registry.promote("v0002", reason="y")
        assert_invariants(registry)
    finally:
        registry.fs.rm(registry.root, recursive=True)


def test_the_ledger_lock_dies_with_a_killed_retraining(tmp_path: Path) -> None:
    folder = tmp_path / "retraining"
    code = (
        "import time; from pathlib import Path\n"
        "from driftline.storage.ledger import RetrainingLedger\n"
        f"with RetrainingLedger(Path({str(folder)!r})).exclusive() as held:\n"
        "    print(held, flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"True"
        with RetrainingLedger(folder).exclusive() as held:
            assert not held
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    with RetrainingLedger(folder).exclusive() as held:
        assert held
