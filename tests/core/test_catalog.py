"""core.catalog is the one list of user choices: torch-free, and exactly what the engine's registries hold."""
import subprocess
import sys
from datetime import datetime

import pytest

from core import catalog
from tests.conftest import REPO


def test_catalog_imports_without_torch_numpy_or_qt():
    code = ("import sys, core.catalog, core.runs.location; "
            "bad = sorted(n for n in ('torch', 'torchvision', 'numpy', 'PySide6', 'pyqtgraph') if n in sys.modules); "
            "print('BAD', bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "BAD []" in out.stdout, out.stdout


def test_engine_registries_hold_exactly_the_catalog_names():
    from core.data.shapes import SHAPE_CLASSES
    from core.data.standard import STANDARD
    from core.models import MODEL_NAMES
    from core.models.registry import _FACTORIES
    from core.models.simple import ACTIVATIONS
    from core.training.optim import OPTIMIZERS, SCHEDULERS

    assert tuple(_FACTORIES) == MODEL_NAMES == catalog.MODEL_NAMES
    assert tuple(ACTIVATIONS) == catalog.ACTIVATION.names
    assert tuple(OPTIMIZERS) == catalog.OPTIMIZER.names
    assert tuple(SCHEDULERS) == catalog.SCHEDULE.names
    assert catalog.BUILTIN_DATASETS + catalog.STANDARD_DATASETS == catalog.DATASET_NAMES
    assert set(STANDARD) == set(catalog.STANDARD_DATASETS)
    for name, info in STANDARD.items():
        assert len(info.classes) == catalog.DATASETS[name].num_classes
    assert len(SHAPE_CLASSES) == catalog.DATASETS["shapes"].num_classes


def test_core_defaults_come_from_the_catalog():
    import inspect

    from core.data import DataSpec
    from core.data.transforms import Augmentation
    from core.models.simple import SmallCNN, build_mlp
    from core.training.session import RunSettings
    from core.training.config import TrainConfig

    config = TrainConfig()
    for setting in catalog.TRAIN_SETTINGS:
        default = list(setting.default) if isinstance(setting, catalog.PathsSetting) else setting.default
        assert getattr(config, setting.key) == default, setting.key
    spec = DataSpec()
    assert (spec.name, spec.image_size, spec.val_fraction, spec.train_count, spec.cache_mb) == (
        catalog.DEFAULT_DATASET, catalog.IMAGE_SIZE.default, catalog.VAL_FRACTION.default,
        catalog.SHAPES_TRAIN_COUNT.default, catalog.CACHE_MB.default)
    assert spec.val_count == catalog.shapes_val_count(spec.train_count)
    aug = Augmentation()
    assert not aug.any() and aug.crop_scale_min == catalog.CROP_SCALE_MIN.default
    assert {a.field for a in catalog.AUGMENTATIONS.values()} < set(Augmentation.__dataclass_fields__)
    assert RunSettings().model_name == catalog.DEFAULT_MODEL
    for model, fn in (("mlp", build_mlp), ("cnn", SmallCNN.__init__)):
        params = inspect.signature(fn).parameters
        for key, value in catalog.MODELS[model].default_options().items():
            assert params[key].default == (tuple(value) if isinstance(value, list) else value), (model, key)


def test_every_default_lies_within_its_limits():
    settings = [*catalog.TRAIN_SETTINGS, catalog.SHAPES_TRAIN_COUNT, catalog.VAL_FRACTION, catalog.CACHE_MB,
                catalog.CROP_SCALE_MIN, *(a.setting for a in catalog.AUGMENTATIONS.values()),
                *(s for m in catalog.MODELS.values() for s in m.options)]
    for s in settings:
        if isinstance(s, catalog.NumberSetting) and s.default is not None:
            assert s.check(s.default) == s.default, s.key
        elif isinstance(s, catalog.ChoiceSetting):
            assert s.check(s.default) == s.default, s.key


def test_settings_reject_values_out_of_range_with_their_name():
    with pytest.raises(catalog.SettingError, match="Batch size"):
        catalog.BATCH_SIZE.check(0)
    with pytest.raises(catalog.SettingError, match="whole number"):
        catalog.EPOCHS.check(2.5)
    with pytest.raises(catalog.SettingError, match="Learning rate"):
        catalog.LEARNING_RATE.check(float("nan"))
    with pytest.raises(catalog.SettingError, match="adam"):
        catalog.OPTIMIZER.check("rmsprop")


def test_weight_sources_map_to_model_options_and_back():
    for source, path in (("scratch", ""), ("pretrained", ""), ("file", "/w/resnet.pth")):
        options = catalog.weight_options(source, path)
        assert set(options) <= set(catalog.WEIGHT_OPTIONS)
        assert catalog.weight_source(options) == source
    assert catalog.weight_options("file", "") == {}


def test_shapes_validation_count_is_an_eighth_and_at_least_20():
    assert catalog.shapes_val_count(8000) == 1000
    assert catalog.shapes_val_count(40) == 20


def test_run_names_sort_by_time_and_never_collide(tmp_path, monkeypatch):
    from core.runs.location import default_runs_root, new_run_dir, new_run_name

    when = datetime(2026, 12, 2, 14, 38)
    assert new_run_name("cnn", "shapes", when) == "2026-12-02_1438_shapes_cnn"
    assert new_run_name("cnn", "/data/my photos", when) == "2026-12-02_1438_my_photos_cnn"
    first = new_run_dir(tmp_path, "cnn", "shapes", when)
    first.mkdir()
    assert new_run_dir(tmp_path, "cnn", "shapes", when) == tmp_path / "2026-12-02_1438_shapes_cnn-2"
    monkeypatch.setenv("LAYERSCOPE_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert default_runs_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("LAYERSCOPE_RUNS_DIR")
    assert default_runs_root().name == "runs" and "layerscope" in str(default_runs_root()).lower()
