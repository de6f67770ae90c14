"""Throw-away PostgreSQL databases for a Prefect server (tests and benchmarks).

Prefect creates its own tables in an empty database; it does not create the database. This
makes one with a random name on the PostgreSQL server of `DRIFTLINE_TEST_POSTGRES_URL`
(default: the local one, user postgres) and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import URL, make_url

URL_ENV = "DRIFTLINE_TEST_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> URL:
    """The server to create databases on: `$DRIFTLINE_TEST_POSTGRES_URL` or the local one."""
    return make_url(os.environ.get(URL_ENV) or DEFAULT_ADMIN_URL)


def _dsn(url: URL) -> str:
    """asyncpg's form of a URL (no `+driver` part)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(url: URL, statement: str, timeout: float = 10) -> None:
    conn = await asyncpg.connect(_dsn(url), timeout=timeout)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def unreachable_reason(timeout: float = 5) -> str | None:
    """None when the admin server accepts a connection, else why not (for a skip message)."""
    url = admin_url()
    try:
        asyncio.run(_execute(url, "SELECT 1", timeout))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        where = url.render_as_string(hide_password=True)
        return f"no PostgreSQL at {where} ({type(exc).__name__}: {exc}); set {URL_ENV}"
    return None


@contextmanager
def scratch_database(prefix: str = "driftline_e2e") -> Iterator[str]:
    """Create `<prefix>_<random>`; yield Prefect's connection URL for it; drop it after."""
    url = admin_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_execute(url, f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        asyncio.run(_execute(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
