"""What to train on: a DataSpec names the dataset (the built-in shapes, a standard set, or a folder) and how
its images are prepared. Plain data: a checkpoint stores it as a dict and rebuilds it with `from_dict`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core import catalog
from core.data.transforms import Augmentation


@dataclass
class DataSpec:
    """What to train on. `name` is 'shapes', a standard set ('mnist', ...) or a folder path."""

    name: str = catalog.DEFAULT_DATASET
    image_size: int | None = catalog.IMAGE_SIZE.default  # None: the dataset's natural size (catalog.natural_image_size)
    val_fraction: float = catalog.VAL_FRACTION.default
    seed: int = catalog.SEED.default
    train_count: int = catalog.SHAPES_TRAIN_COUNT.default  # shapes only
    val_count: int = catalog.shapes_val_count(catalog.SHAPES_TRAIN_COUNT.default)  # shapes only
    augmentation: Augmentation = field(default_factory=Augmentation)
    # Normalisation: None = measured on the training data (folders, standard sets) / built-in (shapes);
    # a pretrained model sets its weights' own mean and std here (see core.models.torchvision_models).
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channels: int | None = None  # None: the data's own (1 for MNIST); 3 repeats grayscale for RGB models
    cache_mb: float = catalog.CACHE_MB.default  # folders: decoded small images kept in memory up to this size (0: never)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["augmentation"] = self.augmentation.to_dict()
        for key in ("mean", "std"):
            d[key] = list(d[key]) if d[key] is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        d = dict(d)
        d["augmentation"] = Augmentation.from_dict(d.get("augmentation"))
        for key in ("mean", "std"):
            if d.get(key) is not None:
                d[key] = tuple(float(v) for v in d[key])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def is_folder(self) -> bool:
        return catalog.is_folder_dataset(self.name)
