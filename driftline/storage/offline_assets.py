"""Great Expectations' Data Docs without the internet: their CDN assets served from the project.

GX 1.24's page templates load jQuery, Bootstrap, bootstrap-table, Font Awesome, Vega and
more from public CDNs, and its logo from S3. The same files (same versions) come from the
npm registry, checked against the sha256 recorded here, into `<state>/assets/` (once per
state folder; `make` fetches them into the package's cache at install time so a run needs
no network at all); every Data Docs page then links to them by a relative path, and the
logo to the site's own copy. Hand-written because GX has no setting for its asset URLs.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from driftline.errors import DriftlineError

NPM_REGISTRY = "https://registry.npmjs.org"
# Where `make` leaves the files (inside the installed package), copied from at first use.
CACHE = Path(__file__).resolve().parent.parent / "apps" / "static" / "vendor"


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    path: str  # inside the package's tarball (under package/)
    sha256: str

    @property
    def local(self) -> str:
        """Where it is kept under an assets folder: `<package>@<version>/<path>`."""
        return f"{self.package}@{self.version}/{self.path}"


ASSETS = (
    Asset(
        "jquery",
        "3.7.1",
        "dist/jquery.min.js",
        "fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a",
    ),
    Asset(
        "popper.js",
        "1.12.9",
        "dist/umd/popper.min.js",
        "a52f7aa54d7bcaafa056ee0a050262dfc5694ae28dee8b4cac3429af37ff0d66",
    ),
    Asset(
        "bootstrap",
        "4.3.1",
        "dist/css/bootstrap.min.css",
        "60b19e5da6a9234ff9220668a5ec1125c157a268513256188ee80f2d2c8d8d36",
    ),
    Asset(
        "bootstrap",
        "4.3.1",
        "dist/js/bootstrap.min.js",
        "0a34a87842c539c1f4feec56bba982fd596b73500046a6e6fe38a22260c6577b",
    ),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/bootstrap-table.min.css",
        "643f536f6982af4d7287af23f89ad457dd7e4a82f9c695330a112b0881c30a4a",
    ),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/bootstrap-table.min.js",
        "06a571a9beb50bd5ddd60517159775dfec1f3e798fff38fb117ae2350dc9ba9d",
    ),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "111f68d31d1bdd714f9503bf5f4e162e0739c363e4ff2feef950d39e78266ffc",
    ),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "be4e0c0d11f9319f1ad191f7447a38f755728bbaa10903e469f367441ba79ae2",
    ),
    Asset(
        "bootstrap-table",
        "1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "b3ff051168696ec9ae3cf8616c59a6db8734fb282863b23edfd8c0f93eb5c4f0",
    ),
    Asset(
        "bootstrap-datepicker",
        "1.9.0",
        "dist/css/bootstrap-datepicker.min.css",
        "b22c8ea45fe905650f8087108b5ed32c1923bcd80d400adc9b0241f18be40208",
    ),
    Asset(
        "bootstrap-datepicker",
        "1.9.0",
        "dist/js/bootstrap-datepicker.min.js",
        "6ea55ea86749ee1fe560fabac6b3effd81b33046fa74dc657e24d41d28110a9f",
    ),
    Asset(
        "@forevolve/bootstrap-dark",
        "1.1.0",
        "dist/css/bootstrap-prefers-dark.css",
        "b087541364cdc7e95cbf71be42da5259f3d11431cc84198c17b47cd44c87cd5b",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "css/all.min.css",
        "e5e202e3c899507992952533f57b634722b69b34241d271963559d31aa33ef81",
    ),
    Asset(
        "vega",
        "5.33.1",
        "build/vega.min.js",
        "463f3db6a40b20e9747b4ed38f37ed0add508838f9141b1cf8366784b07b30c8",
    ),
    Asset(
        "vega-lite",
        "5.23.0",
        "build/vega-lite.min.js",
        "58c27358e26f2d319cf62f45bc17a4c8362f08645001df2ec8d341eee4097c7f",
    ),
    Asset(
        "vega-embed",
        "6.29.0",
        "build/vega-embed.min.js",
        "12d02acfbe3ec59ef9a37dd4822a2e04e2961b5bbb671bbe661d2221715b99da",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-brands-400.woff2",
        "c411f11975d26eb04cd2aa3c071181d4b18e489f1fb97060d4176a3531dfb36e",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-regular-400.woff2",
        "c732f106e91bc618767fbac8e2c7b27e5c736d477b2bb4fb83f597a43198c33c",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-solid-900.woff2",
        "1f0189e087fcefbf654fad74a3a06668b782c01353a61d5c0b7f0bf23e33c020",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-v4compatibility.woff2",
        "2aca24b35bd41474dcc5e7fb5f11ec43fa06e3ac1d0035ad41108fa6b30b0871",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-brands-400.ttf",
        "bc844b5b02d3f3adabb514de4e0c0208252d3123413bd03f6287fa446acee859",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-regular-400.ttf",
        "64f9fb623681f112261e9a2f97826782439f3925dea8f44a57d1e4db95ba6cfd",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-solid-900.ttf",
        "31f099c13f6e4ba05f1b471bf170cb5493249474222917372de3ca5cf29e6a1a",
    ),
    Asset(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "webfonts/fa-v4compatibility.ttf",
        "a6274a12fd3f5f1ea05fc9b4677959b31fd101fdac4f0d09c17159c414d36d23",
    ),
)

# Each CDN address in GX's templates and the asset that replaces it.
CDN = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js@1.12.9/dist/umd/popper.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap@4.3.1/dist/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap@4.3.1/dist/js/bootstrap.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/": "bootstrap-table@1.19.1/dist/",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/": "bootstrap-table@1.19.1/dist/",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/": (
        "bootstrap-datepicker@1.9.0/dist/css/"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/": (
        "bootstrap-datepicker@1.9.0/dist/js/"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/": (
        "@forevolve/bootstrap-dark@1.1.0/dist/css/"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free@6.6.0/css/all.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vega@5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite@5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed@6.29.0/build/vega-embed.min.js",
}
S3_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# Subresource integrity and CORS mode: meaningless for a file next to the page, and
# `crossorigin` makes a browser refuse a file:// script.
_SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*"|crossorigin(?=[\s>]))')
_URL = re.compile("|".join(re.escape(u) for u in sorted(CDN, key=len, reverse=True)) + r'[^"\']*')


class AssetError(DriftlineError):
    """An offline asset could not be fetched or does not match its recorded checksum."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(dest: Path = CACHE) -> Path:
    """Put every asset under `dest`, from the npm registry where missing; returns `dest`."""
    missing = [a for a in ASSETS if not _intact(dest / a.local, a)]
    by_tarball: dict[tuple[str, str], list[Asset]] = {}
    for asset in missing:
        by_tarball.setdefault((asset.package, asset.version), []).append(asset)
    for (package, version), assets in by_tarball.items():
        url = f"{NPM_REGISTRY}/{package}/-/{package.split('/')[-1]}-{version}.tgz"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                blob = response.read()
        except OSError as exc:
            raise AssetError(
                f"{url}: cannot fetch the Data Docs assets ({exc}); run `make` where the npm "
                f"registry is reachable, or copy {CACHE} from such a machine"
            ) from None
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            for asset in assets:
                member = tar.extractfile(f"package/{asset.path}")
                data = member.read() if member else b""
                if _digest(data) != asset.sha256:
                    raise AssetError(f"{url}: {asset.path} does not match its recorded sha256")
                target = dest / asset.local
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(target.name + ".part")
                tmp.write_bytes(data)
                os.replace(tmp, target)
    return dest


def _intact(path: Path, asset: Asset) -> bool:
    return path.is_file() and _digest(path.read_bytes()) == asset.sha256


def install(assets_dir: Path) -> Path:
    """The assets under `assets_dir` (a state folder's `assets/`), copied from the cache."""
    if all((assets_dir / a.local).is_file() for a in ASSETS):
        return assets_dir
    fetch(CACHE)
    for asset in ASSETS:
        target = assets_dir / asset.local
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CACHE / asset.local, target)
    return assets_dir


def make_offline(site: Path, assets_dir: Path) -> list[Path]:
    """Rewrite every page of a Data Docs site to load its assets from `assets_dir`."""
    install(assets_dir)
    changed = []
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        to_assets = Path(os.path.relpath(assets_dir, page.parent)).as_posix()
        to_images = Path(os.path.relpath(site / "static" / "images", page.parent)).as_posix()
        new = _URL.sub(lambda m, base=to_assets: _local(m.group(0), base), _SRI.sub("", text))
        new = new.replace(S3_IMAGES, f"{to_images}/")
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def _local(url: str, base: str) -> str:
    """A CDN address as the path of its copy under `base` (the assets folder, relative)."""
    prefix = next(p for p in sorted(CDN, key=len, reverse=True) if url.startswith(p))
    return f"{base}/{CDN[prefix]}{url[len(prefix) :]}"


def remote_urls(text: str) -> list[str]:
    """The http(s) addresses a page still loads (src/href of scripts, styles, images)."""
    return re.findall(r'<(?:script|link|img)\b[^>]*?(?:src|href)="(https?://[^"]+)"', text)


if __name__ == "__main__":  # `make` runs this: the assets into the package's cache
    print(f"Data Docs assets in {fetch()}")
