"""The files TensorBoard's embedding projector reads, so the map opens there too (`tensorboard --logdir OUT`):
tensors.tsv (one row of features per image), metadata.tsv (id, split, label, prediction, familiarity),
projector_config.pbtxt, and with pictures a sprite.png of thumbnails. The projector accepts sprites of at
most 8,192 px a side, so the thumbnails shrink as the images grow in number (and past 8,192 / 8 = 1,024 per
side, i.e. a million images, no sprite is written)."""
from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Callable

import numpy as np

from core.familiarity.features import SPLIT_CODES, FeatureSet
from core.io.atomic import atomic_write

MAX_SPRITE_PX, MAX_THUMB_PX, MIN_THUMB_PX = 8192, 64, 8
_SPLIT_NAMES = {code: name for name, code in SPLIT_CODES.items()}


def _clean(text: str) -> str:
    """A TSV cell: tabs and line breaks would shift the columns."""
    return str(text).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8", "surrogateescape")))  # any file name


def _sprite(ids: list[str], picture: Callable[[str], np.ndarray | None]) -> tuple[bytes, int] | None:
    from PIL import Image

    per_side = math.ceil(math.sqrt(len(ids)))
    thumb = min(MAX_THUMB_PX, MAX_SPRITE_PX // max(1, per_side))
    if thumb < MIN_THUMB_PX:
        return None
    sheet = Image.new("RGB", (per_side * thumb, per_side * thumb))
    for i, item in enumerate(ids):
        array = picture(item)
        if array is None:
            continue
        image = Image.fromarray(np.asarray(array, dtype=np.uint8)).convert("RGB").resize((thumb, thumb))
        sheet.paste(image, ((i % per_side) * thumb, (i // per_side) * thumb))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue(), thumb


def write_projector(out_dir: str | os.PathLike, features: FeatureSet, classes: list[str],
                    familiarity: np.ndarray | None = None, picture: Callable[[str], np.ndarray | None] | None = None
                    ) -> list[Path]:
    """Write the projector's files into out_dir; `picture(id)` gives an item's uint8 image (HWC) or None."""
    out = Path(out_dir)
    rows = "\n".join("\t".join(f"{v:.6g}" for v in row) for row in features.features) + "\n"
    predictions = features.predictions
    meta = ["id\tsplit\tlabel\tprediction\tfamiliarity"] + [
        "\t".join([_clean(features.ids[i]), _SPLIT_NAMES.get(int(features.splits[i]), "other"),
                   _clean(classes[int(features.labels[i])]), _clean(classes[int(predictions[i])]),
                   f"{familiarity[i]:.4f}" if familiarity is not None else ""]) for i in range(len(features))]
    written = [_write_text(out / "tensors.tsv", rows), _write_text(out / "metadata.tsv", "\n".join(meta) + "\n")]
    config = ['embeddings {', '  tensor_name: "layerscope"', '  tensor_path: "tensors.tsv"',
              '  metadata_path: "metadata.tsv"']
    sprite = _sprite(features.ids, picture) if picture is not None and len(features) else None
    if sprite is not None:
        data, thumb = sprite
        written.append(atomic_write(out / "sprite.png", lambda fh: fh.write(data)))
        config += ['  sprite {', '    image_path: "sprite.png"', f'    single_image_dim: {thumb}',
                   f'    single_image_dim: {thumb}', '  }']
    written.append(_write_text(out / "projector_config.pbtxt", "\n".join(config + ["}"]) + "\n"))
    return written
