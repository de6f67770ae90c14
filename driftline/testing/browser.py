"""Headless Chromium for tests, with every request off this machine refused and recorded.

Debian's `/usr/bin/chromium` driven through Playwright's protocol client (Playwright's own
browser download is not used). A page may load `file://` URLs and anything on loopback;
any other request is aborted and counted, as is every request that fails, so a test can
assert that a page rendered from the machine alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Route

CHROMIUM = Path(os.environ.get("DRIFTLINE_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--run-all-compositor-stages-before-draw",  # screenshots not caught mid-animation
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class Traffic:
    """What the pages asked for: requests refused (off the machine) and requests that failed."""

    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # HTTP answers >= 400


def _local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("file", "data", "blob", "about") or parsed.hostname in LOOPBACK


@contextmanager
def offline_page(user_data_dir: Path) -> Iterator[tuple[Page, Traffic]]:
    """A fresh browser profile's page and the record of its traffic."""
    from playwright.sync_api import sync_playwright

    traffic = Traffic()

    def route(r: Route) -> None:
        if _local(r.request.url):
            r.continue_()
        else:
            traffic.refused.append(r.request.url)
            r.abort("blockedbyclient")

    def failed(request: Request) -> None:
        if request.url not in traffic.refused:
            traffic.failed.append(f"{request.url}: {request.failure}")

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("requestfailed", failed)
            page.on(
                "response",
                lambda r: (
                    traffic.errors.append(f"{r.url}: {r.status}") if r.status >= 400 else None
                ),
            )
            yield page, traffic
        finally:
            context.close()
