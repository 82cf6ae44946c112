"""Property: whatever bytes arrive (random, truncated, bit-flipped real files), the loader either returns an
RGB image or raises ImageLoadError; no other exception ever escapes."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from core.io.images import ImageLoadError, load_image


def _encoded(fmt: str, **kwargs) -> bytes:
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    if fmt == "GIF":
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


SAMPLES = {
    "PNG": _encoded("PNG"),
    "JPEG": _encoded("JPEG", quality=90),
    "GIF": _encoded("GIF"),
    "WEBP": _encoded("WEBP", quality=80),
    "TIFF": _encoded("TIFF"),
    "BMP": _encoded("BMP"),
}
# Mangled TIFF/EXIF headers make Pillow warn before it fails or recovers; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load_or_clean_error(data: bytes) -> None:
    try:
        img = load_image(data, name="fuzz")
    except ImageLoadError as exc:
        assert exc.path == "fuzz" and exc.reason  # a reason a person can read
        return
    assert img.mode == "RGB" and img.size[0] > 0 and img.size[1] > 0


def test_intact_samples_load():
    for fmt, data in SAMPLES.items():
        assert load_image(data, name=fmt).size == (32, 24), fmt


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    _load_or_clean_error(data)


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.floats(0.0, 1.0))
def test_truncated_files(fmt, fraction):
    data = SAMPLES[fmt]
    _load_or_clean_error(data[: int(len(data) * fraction)])


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True),
                                                            st.integers(0, 7)), min_size=1, max_size=8))
def test_bit_flips(fmt, flips):
    data = bytearray(SAMPLES[fmt])
    for where, bit in flips:
        data[int(where * len(data))] ^= 1 << bit
    _load_or_clean_error(bytes(data))


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.integers(0, 64), st.binary(min_size=1, max_size=64))
def test_header_overwrites(fmt, offset, junk):
    # Headers hold sizes, counts and offsets: overwriting them is where decoders are most fragile.
    data = bytearray(SAMPLES[fmt])
    data[offset:offset + len(junk)] = junk
    _load_or_clean_error(bytes(data))
