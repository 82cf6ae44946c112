"""Where an image to inspect comes from: a file, an http(s) URL, or raw bytes (the clipboard).

Plain Python (no Qt), so it runs on the worker thread: a URL is fetched there, with a timeout and a size
cap, and every failure becomes an ImageLoadError whose reason a user can act on.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from core.io.images import ImageLoadError
from gui.drop_router import is_url  # noqa: F401  (the one definition; the inspector's modules import it from here)

URL_TIMEOUT_S = 15.0
URL_MAX_BYTES = 50 * 1024 * 1024  # a photo is a few MiB; anything far bigger is not what the user meant


@dataclass(frozen=True)
class ImageSource:
    """One image to inspect. Exactly one of `path`, `url`, `data` is set; `label` is what the user sees."""

    label: str
    path: str | None = None
    url: str | None = None
    data: bytes | None = None

    @classmethod
    def from_path(cls, path) -> "ImageSource":
        return cls(label=Path(path).name or str(path), path=str(path))

    @classmethod
    def from_url(cls, url: str) -> "ImageSource":
        name = PurePosixPath(unquote(urlparse(url).path)).name
        return cls(label=name or url, url=url)

    @classmethod
    def from_bytes(cls, data: bytes, label: str = "pasted image") -> "ImageSource":
        return cls(label=label, data=bytes(data))

    @property
    def where(self) -> str:
        """The full location, for messages and the CSV."""
        return self.path or self.url or self.label


def fetch_url(url: str, timeout: float = URL_TIMEOUT_S, max_bytes: int = URL_MAX_BYTES) -> bytes:
    """Download `url` (http/https only) into memory, refusing bodies above `max_bytes`."""
    if not is_url(url):
        raise ImageLoadError(url, "only http:// and https:// addresses can be fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "Layerscope"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ImageLoadError(url, f"the download is {int(declared) / 2**20:.0f} MiB, above the "
                                          f"{max_bytes / 2**20:.0f} MiB limit; save it and drop the file instead")
            kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind in ("text/html", "application/xhtml+xml"):
                raise ImageLoadError(url, "the address is a web page, not an image; copy the image's own "
                                          "address (right-click the picture) or save it and drop the file")
            data = response.read(max_bytes + 1)  # one byte more tells us the body was too big
    except ImageLoadError:
        raise
    except urllib.error.HTTPError as exc:
        raise ImageLoadError(url, f"the server answered {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        raise ImageLoadError(url, f"could not download it ({exc.reason}); check the address and your connection")
    except TimeoutError:
        raise ImageLoadError(url, f"the download took longer than {timeout:g} s; save it and drop the file instead")
    except (OSError, ValueError) as exc:
        raise ImageLoadError(url, f"could not download it ({exc})")
    if len(data) > max_bytes:
        raise ImageLoadError(url, f"the download is above the {max_bytes / 2**20:.0f} MiB limit; "
                                  "save it and drop the file instead")
    if not data:
        raise ImageLoadError(url, "the server sent an empty answer")
    return data
