"""Shared test set-up: Qt runs offscreen, real data lives in ../shared/data (tests skip when it is absent)."""
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LAYERSCOPE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test photos not found at {SHARED_DATA} (set LAYERSCOPE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def user_config_folder(tmp_path_factory):
    """The key that signs dataset move logs (core/data/move_log.py) lives in a folder of the test session, not
    in the user's config folder."""
    folder = tmp_path_factory.mktemp("user-config")
    previous = os.environ.get("LAYERSCOPE_CONFIG_DIR")
    os.environ["LAYERSCOPE_CONFIG_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("LAYERSCOPE_CONFIG_DIR", None)
    else:
        os.environ["LAYERSCOPE_CONFIG_DIR"] = previous
