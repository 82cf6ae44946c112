"""Adding an image to a folder dataset: a copy into the class folder, never an overwrite, built-ins refused."""
import pytest

from core.data.add_image import add_image, class_root, dataset_classes
from core.data.folder import DatasetError


@pytest.fixture
def dataset(tmp_path):
    for name in ("ants", "bees"):
        (tmp_path / "data" / name).mkdir(parents=True)
    (tmp_path / "data" / "bees" / "photo.jpg").write_bytes(b"existing bee")
    (tmp_path / "photo.jpg").write_bytes(b"new picture")
    return tmp_path / "data"


def test_copy_into_the_class_folder_with_a_unique_name(dataset):
    source = dataset.parent / "photo.jpg"
    first = add_image(dataset, "ants", path=source)
    assert first == dataset / "ants" / "photo.jpg" and first.read_bytes() == b"new picture"
    second = add_image(dataset, "bees", path=source)  # bees/photo.jpg exists: kept, the copy gets a new name
    assert second == dataset / "bees" / "photo-1.jpg"
    assert (dataset / "bees" / "photo.jpg").read_bytes() == b"existing bee"
    assert source.read_bytes() == b"new picture"  # the original stays where it was
    pasted = add_image(dataset, "bees", data=b"png bytes", name="pasted image")
    assert pasted == dataset / "bees" / "pasted image.png"  # a name the data layer reads as an image


def test_train_split_folder_and_bad_requests(dataset, tmp_path):
    assert dataset_classes(dataset) == ["ants", "bees"]
    with pytest.raises(DatasetError, match="no class folder 'wasps'.*ants, bees"):
        add_image(dataset, "wasps", path=dataset.parent / "photo.jpg")
    with pytest.raises(DatasetError, match="built-in dataset"):
        add_image("shapes", "circle", data=b"x")
    with pytest.raises(DatasetError, match="does not exist"):
        class_root(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="cannot read"):
        add_image(dataset, "ants", path=tmp_path / "missing.jpg")
    (tmp_path / "split" / "train" / "cats").mkdir(parents=True)
    (tmp_path / "split" / "val" / "cats").mkdir(parents=True)
    assert add_image(tmp_path / "split", "cats", data=b"x", name="c.png") == tmp_path / "split" / "train" / "cats" / "c.png"
