"""Issue 12, findings 2 and 7: only regular files are opened, one pixel limit checked from the header,
float TIFFs convert quietly. Every input is made here; nothing may block (each test has a timeout)."""
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from core.io.images import DEFAULT_MAX_PIXELS, ImageLoadError, load_image
from tests.core import hostile_files as hf

pytestmark = pytest.mark.timeout(30)  # a FIFO opened by mistake would block forever


def refused(path) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert err.value.path == str(path)
    return err.value


def test_a_fifo_is_refused_by_type_without_blocking(tmp_path):
    # open() on a FIFO with no writer blocks forever: the refusal must come before it.
    err = refused(hf.fifo(tmp_path / "f.png"))
    assert err.kind == "not_regular" and "FIFO" in err.reason


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "zero.png"
    os.symlink("/dev/zero", link)
    err = refused(link)
    assert err.kind == "not_regular" and "device" in err.reason


def test_link_loops_dangling_links_and_folders_get_named_reasons(tmp_path):
    assert refused(hf.symlink_loop(tmp_path / "loop.png")).kind == "symlink_loop"
    dangling = refused(hf.dangling_link(tmp_path / "dangling.png"))
    assert dangling.kind == "dangling_link" and "gone-dangling.png" in dangling.reason
    assert refused(hf.folder_named_like_image(tmp_path / "x.jpg")).kind == "folder"
    assert refused(tmp_path / "missing.png").kind == "missing"


def test_a_huge_sparse_file_is_refused_by_size_before_it_is_read(tmp_path):
    err = refused(hf.sparse_file(tmp_path / "huge.png"))
    assert err.kind == "file_too_big" and "8,192 MiB" in err.reason


def test_a_one_million_by_one_png_is_refused_before_it_asks_for_gigabytes(tmp_path):
    err = refused(hf.wide_png(tmp_path / "wide.png"))
    assert err.kind == "too_large" and "1000000 x 1 px" in err.reason and "too large" in err.reason


def test_the_pixel_limit_is_the_documented_150_mp(tmp_path):
    assert DEFAULT_MAX_PIXELS == 150_000_000 and Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_PIXELS
    over = tmp_path / "over.png"
    over.write_bytes(hf.png_bytes(12_300, 12_300, pixels=False))  # 151 MP: header only
    err = refused(over)
    assert err.kind == "too_large" and "12300 x 12300 px, limit 150 MP" in err.reason
    # 100 MP is under our limit (above Pillow's default 89 MP): the header passes, the stub IDAT then fails.
    under = tmp_path / "under.png"
    under.write_bytes(hf.png_bytes(10_000, 10_000, pixels=False))
    err = refused(under)
    assert err.kind == "corrupt" and "too large" not in err.reason


def test_a_too_elongated_strip_is_refused(tmp_path):
    strip = tmp_path / "strip.png"
    strip.write_bytes(hf.png_bytes(20_000, 10, pixels=False))
    err = refused(strip)
    assert err.kind == "too_large" and "20000 x 10 px" in err.reason


@pytest.mark.parametrize("values", [
    np.full((6, 5), np.nan, np.float32),  # all NaN
    np.array([[np.inf, -np.inf], [np.nan, 1.0]], np.float32),
    np.full((4, 4), 7.0, np.float32),  # constant
    np.array([[0.0, 1e-45], [3e38, -3e38]], np.float32),  # denormal and near-max spans
], ids=["all-nan", "inf", "constant", "extremes"])
def test_float_tiffs_convert_without_runtime_warnings(tmp_path, values):
    path = tmp_path / "float.tif"
    Image.fromarray(values, "F").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image.mode == "RGB" and image.size == (values.shape[1], values.shape[0])
    arr = np.asarray(image)
    assert arr[~np.isfinite(values)].max(initial=0) == 0  # not-a-number pixels are black


def test_sixteen_bit_tiff_keeps_its_range(tmp_path):
    path = tmp_path / "i16.tif"
    Image.fromarray(np.array([[0, 1000], [2000, 65535]], np.uint16)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arr = np.asarray(load_image(path))[..., 0]
    assert arr[0, 0] == 0 and arr[1, 1] == 255
