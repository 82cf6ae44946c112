"""A shared image folder with planted links and FIFOs: adding an image never writes through a linked class or
split folder, and the folder commands finish (no hang) with a note naming the bad file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.data.add_image import add_image
from core.data.corrections import FILE_NAME, MOVE_LOG
from core.data.folder import DatasetError
from tests.core.evalkit import write_shapes_folder
from tests.core.hostile_files import fifo, small_png
from tests.support.decoys import Decoy

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["circle", "square", "star"]


@pytest.fixture
def world(tmp_path):
    data = write_shapes_folder(tmp_path / "data", per_class=3, size=16, classes=CLASSES)
    decoy = Decoy(tmp_path / "home", watch=tmp_path, exclude=(data,))
    return data, decoy


def test_adding_an_image_never_writes_through_a_linked_class_folder(world, tmp_path_factory):
    data, decoy = world
    image = small_png(tmp_path_factory.mktemp("src") / "new.png")
    os.symlink(decoy.autostart, data / "zebra")  # listed as a class by the scanner
    with pytest.raises(DatasetError, match="symbolic link") as info:
        add_image(data, "zebra", path=image)
    assert str(data / "zebra") in str(info.value)
    decoy.assert_untouched()
    added = add_image(data, "circle", path=image)
    assert added.parent == data / "circle" and added.read_bytes() == image.read_bytes()


def test_adding_an_image_from_a_fifo_or_device_is_refused_without_hanging(world, tmp_path_factory):
    data, decoy = world
    src = tmp_path_factory.mktemp("src")
    with pytest.raises(DatasetError, match="named pipe"):
        add_image(data, "circle", path=fifo(src / "x.png"))
    os.symlink("/dev/zero", src / "zero.png")
    with pytest.raises(DatasetError, match="device"):
        add_image(data, "circle", path=src / "zero.png")
    decoy.assert_untouched()


def test_a_planted_link_under_the_new_images_name_is_not_written_through(world, tmp_path_factory):
    data, decoy = world
    image = small_png(tmp_path_factory.mktemp("src") / "new.png")
    os.symlink(decoy.target, data / "circle" / "new.png")
    added = add_image(data, "circle", path=image)
    assert added.name == "new-1.png"
    decoy.assert_untouched()


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_folder_commands_finish_with_a_fifo_as_the_corrections_file_and_the_move_log(world, tmp_path_factory):
    """They hung for ever: `dataset`, `train` and every folder command read the corrections file."""
    data, decoy = world
    fifo(data / FILE_NAME)
    fifo(data / MOVE_LOG)
    done = cli("dataset", str(data))
    assert done.returncode == 0, done.stderr[-2000:]
    assert str(data / FILE_NAME) in done.stdout + done.stderr and "named pipe" in done.stdout + done.stderr
    done = cli("train", "--dataset", str(data), "--model", "mlp", "--hidden", "8", "--epochs", "1",
               "--image-size", "16", "--batch-size", "8", "--device", "cpu", "--quiet", "--out", str(tmp_path_factory.mktemp("runs") / "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "named pipe" in done.stdout + done.stderr
    done = cli("corrections", str(data), "undo-apply")
    assert done.returncode == 2 and "named pipe" in done.stderr
    decoy.assert_untouched()
