"""The safe loader turns every format and mode a real file comes in into 8-bit RGB, the right way up."""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.io.images import ImageLoadError, is_image_path, load_image

ROOT = Path(__file__).resolve().parents[2]
LOOSE = ROOT.parent / "shared" / "data" / "loose"
W, H = 40, 24  # not square, so a rotation or a transposed size shows


def _gradient_rgb() -> Image.Image:
    x = np.linspace(0, 255, W, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, H, dtype=np.float32)[:, None, None]
    arr = np.concatenate([np.broadcast_to(x, (H, W, 1)), np.broadcast_to(y, (H, W, 1)),
                          np.full((H, W, 1), 90, np.float32)], axis=2)
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def _save(img: Image.Image, path: Path, **kwargs) -> Path:
    img.save(path, **kwargs)
    return path


def _check_rgb(img: Image.Image, size=(W, H)) -> np.ndarray:
    assert img.mode == "RGB"
    assert img.size == size
    arr = np.asarray(img)
    assert arr.dtype == np.uint8 and arr.shape == (size[1], size[0], 3)
    return arr


def _sixteen_bit() -> Image.Image:
    wide = (np.arange(W * H, dtype=np.uint32).reshape(H, W) * 60).astype(np.uint16)  # 0 .. ~57000
    img = Image.fromarray(wide)
    assert img.mode == "I;16"
    return img


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "LA", "1", "I;16"])
def test_png_every_mode(tmp_path, mode):
    src = _gradient_rgb()
    if mode == "I;16":
        img = _sixteen_bit()
    else:
        img = src.convert(mode)
    path = _save(img, tmp_path / f"img_{mode.replace(';', '')}.png")
    arr = _check_rgb(load_image(path))
    # Content survives: not a flat image (a wrong conversion of 16-bit data often gives all-white).
    assert arr.std() > 10
    if mode == "I;16":
        assert Image.open(path).mode.startswith("I")
        assert arr.min() == 0 and arr.max() == 255  # 16-bit range stretched to 8 bits, not clipped
        assert np.all(np.diff(arr[:, :, 0].astype(int).ravel()) >= 0)  # monotone, no wrap-around


def test_palette_png_with_transparency_composites_on_white(tmp_path):
    img = Image.new("P", (W, H), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (0, 0, W // 2, H))  # left half index 1 (blue), right half index 0 (red, transparent)
    path = _save(img, tmp_path / "pal_t.png", transparency=0)
    arr = _check_rgb(load_image(path))
    assert tuple(arr[0, 0]) == (0, 0, 255)
    assert tuple(arr[0, -1]) == (255, 255, 255)


@pytest.mark.parametrize("ext,kwargs", [(".png", {}), (".webp", {"lossless": True}), (".tif", {})])
def test_rgba_transparency_composites_on_white(tmp_path, ext, kwargs):
    arr = np.zeros((H, W, 4), np.uint8)
    arr[..., 1] = 200  # green
    arr[:, : W // 2, 3] = 255  # left opaque, right fully transparent
    path = _save(Image.fromarray(arr, "RGBA"), tmp_path / f"rgba{ext}", **kwargs)
    assert Image.open(path).mode == "RGBA"
    out = _check_rgb(load_image(path))
    assert tuple(out[0, 0]) == (0, 200, 0)
    assert tuple(out[0, -1]) == (255, 255, 255)


def test_la_transparency_composites_on_white(tmp_path):
    arr = np.zeros((H, W, 2), np.uint8)
    arr[..., 0] = 40
    arr[:, : W // 2, 1] = 255
    path = _save(Image.fromarray(arr, "LA"), tmp_path / "la.png")
    out = _check_rgb(load_image(path))
    assert tuple(out[0, 0]) == (40, 40, 40) and tuple(out[0, -1]) == (255, 255, 255)


@pytest.mark.parametrize("fmt,ext,kwargs", [
    ("JPEG", ".jpg", {"quality": 95}), ("BMP", ".bmp", {}), ("WEBP", ".webp", {"lossless": True}),
    ("TIFF", ".tif", {}), ("GIF", ".gif", {}), ("PPM", ".ppm", {}),
])
def test_rgb_in_every_container(tmp_path, fmt, ext, kwargs):
    src = _gradient_rgb()
    path = _save(src, tmp_path / f"img{ext}", format=fmt, **kwargs)
    arr = _check_rgb(load_image(path))
    if fmt in ("BMP", "WEBP", "TIFF", "PPM"):  # lossless: exact pixels
        assert np.array_equal(arr, np.asarray(src))
    else:
        assert np.abs(arr.astype(int) - np.asarray(src).astype(int)).mean() < 12


def test_grayscale_jpeg_and_tiff_16bit(tmp_path):
    _check_rgb(load_image(_save(_gradient_rgb().convert("L"), tmp_path / "g.jpg")))
    path = _save(_sixteen_bit(), tmp_path / "g16.tif")
    assert Image.open(path).mode.startswith("I;16")
    arr = _check_rgb(load_image(path))
    assert arr.min() == 0 and arr.max() == 255


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_cmyk_comes_out_rgb_with_the_right_colour(tmp_path, ext):
    # Pure cyan in CMYK is (255, 0, 0, 0): in RGB that is (0, 255, 255).
    img = Image.new("CMYK", (W, H), (255, 0, 0, 0))
    path = _save(img, tmp_path / f"cmyk{ext}", **({"quality": 95} if ext == ".jpg" else {}))
    assert Image.open(path).mode == "CMYK"
    arr = _check_rgb(load_image(path))
    r, g, b = arr[H // 2, W // 2].astype(int)
    assert r < 40 and g > 215 and b > 215


def test_exif_orientation_6_is_rotated_clockwise(tmp_path):
    # Stored landscape with a red top-left corner. Orientation 6: the viewer rotates 90 degrees clockwise,
    # so the image comes out portrait and the red corner ends up top-right.
    arr = np.full((H, W, 3), 255, np.uint8)
    arr[:6, :6] = (255, 0, 0)
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(img, tmp_path / "rot6.jpg", exif=exif.tobytes(), quality=95)
    out = _check_rgb(load_image(path), size=(H, W))
    top_right, top_left = out[2, -3].astype(int), out[2, 2].astype(int)
    assert top_right[0] > 200 and top_right[1] < 60
    assert top_left.min() > 200  # white


@pytest.mark.filterwarnings("ignore::UserWarning")  # pytest's own filters would show it; checked below
def test_broken_exif_still_loads_quietly(tmp_path):
    path = _save(_gradient_rgb(), tmp_path / "badexif.jpg", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\xff")
    _check_rgb(load_image(path))
    # Pillow's "Corrupt EXIF data" UserWarning stays quiet even where warnings are errors. In a fresh
    # interpreter, since pytest installs its own warning filters around each test.
    code = f"from core.io.images import load_image; print(load_image({str(path)!r}).size)"
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"({W}, {H})" and "EXIF" not in done.stderr


def test_animated_gif_gives_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (W, H), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    arr = _check_rgb(load_image(path))
    assert tuple(arr[H // 2, W // 2]) == (255, 0, 0)


def test_multipage_tiff_gives_the_first_page(tmp_path):
    pages = [Image.new("RGB", (W, H), c) for c in ((0, 128, 0), (9, 9, 9))]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert tuple(np.asarray(load_image(path))[0, 0]) == (0, 128, 0)


def test_bytes_source_and_name(tmp_path):
    buf = io.BytesIO()
    _gradient_rgb().save(buf, format="PNG")
    _check_rgb(load_image(buf.getvalue()))
    with pytest.raises(ImageLoadError) as err:
        load_image(b"definitely not an image", name="dropped.png")
    assert err.value.path == "dropped.png"


# ---- files that are not images, or not there --------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError) as err:
        load_image(tmp_path / "nope.jpg")
    assert "does not exist" in err.value.reason and "nope.jpg" in str(err.value)


def test_folder(tmp_path):
    with pytest.raises(ImageLoadError) as err:
        load_image(tmp_path)
    assert "folder" in err.value.reason


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageLoadError) as err:
        load_image(tmp_path / "empty.png")
    assert "empty" in err.value.reason


def test_text_file_with_image_extension(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is a shopping list, not a photo\n")
    with pytest.raises(ImageLoadError) as err:
        load_image(tmp_path / "notes.jpg")
    assert "not an image" in err.value.reason


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    _gradient_rgb().resize((400, 300)).save(buf, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageLoadError) as err:
        load_image(tmp_path / "cut.jpg")
    assert "corrupt or truncated" in err.value.reason


def test_file_size_limit(tmp_path):
    path = _save(_gradient_rgb(), tmp_path / "big.png")
    with pytest.raises(ImageLoadError) as err:
        load_image(path, max_bytes=10)
    assert "limit" in err.value.reason


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with a tiny (wrong) IDAT: a decompression-bomb shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_header_is_refused_before_decoding():
    with pytest.raises(ImageLoadError) as err:
        load_image(_png_header_only(60_000, 60_000), name="bomb.png")
    assert "too large" in err.value.reason and "bomb.png" in str(err.value)


def test_pixel_limit_can_be_lowered(tmp_path):
    path = _save(_gradient_rgb(), tmp_path / "small.png")
    with pytest.raises(ImageLoadError) as err:
        load_image(path, max_pixels=W * H - 1)
    assert f"{W} x {H} px" in err.value.reason and err.value.kind == "too_large"
    _check_rgb(load_image(path, max_pixels=W * H))


def test_is_image_path():
    assert is_image_path("a/b/photo.JPG") and is_image_path("x.webp") and is_image_path("x.tiff")
    assert not is_image_path("notes.txt") and not is_image_path("folder")


# ---- real photos ------------------------------------------------------------------------------------------

@pytest.mark.skipif(not LOOSE.is_dir(), reason=f"shared test photos not found at {LOOSE}")
def test_real_loose_photos_load_as_rgb():
    files = sorted(p for p in LOOSE.iterdir() if is_image_path(p))
    assert files, f"no images in {LOOSE}"
    for path in files:
        with Image.open(path) as raw:
            expected = raw.size
        img = load_image(path)
        assert img.mode == "RGB" and img.size == expected, path.name
