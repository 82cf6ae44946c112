"""`layerscope familiarity` (the feature bank beside a checkpoint, so predict and the app can say whether an
image is like the training images) and `layerscope embed` (the map of a dataset as map.csv + map.png)."""
from __future__ import annotations

import sys
from pathlib import Path

from core import catalog, exit_codes
from core.cli.args import setting_type
from core.cli.failure import CommandError
from core.runs.layout import BANK_SUFFIX, BEST

MAP_METHODS = ("pca", "tsne", "umap")  # core.datamap.project.METHODS (not imported: it imports torch)


def register(sub) -> None:
    f = sub.add_parser("familiarity", help="compute the feature bank that scores how familiar new images are",
                       description=(
                           "One pass over the checkpoint's training and validation images; the bank is stored "
                           f"beside the checkpoint ({BEST} -> {Path(BEST).stem}{BANK_SUFFIX}), and predict, the app "
                           "and the map then score new images against it."))
    f.add_argument("--checkpoint", required=True)
    f.add_argument("--dataset", default=None, help="a folder with one sub-folder per class (default: the data the "
                                                   "checkpoint was trained on)")
    f.add_argument("--out", default=None, help="where to store the bank (default: beside the checkpoint)")
    f.add_argument("--device", default="cpu", type=setting_type(catalog.DEVICE))
    f.add_argument("--batch-size", type=setting_type(catalog.BATCH_SIZE), default=256)
    f.set_defaults(handler=familiarity)

    e = sub.add_parser("embed", help="the map of a dataset: every training and validation image as a point",
                       description="Writes map.csv (path, split, label, prediction, probability, familiarity, "
                                   "x, y) and map.png (a scatter coloured by label) into --out.")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--dataset", default=None, help="a folder with one sub-folder per class (default: the data the "
                                                   "checkpoint was trained on)")
    e.add_argument("--out", required=True, help="folder for map.csv and map.png")
    e.add_argument("--method", default="pca", choices=MAP_METHODS,
                   help="pca (at once), tsne (minutes for many images) or umap (needs umap-learn)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="cpu", type=setting_type(catalog.DEVICE))
    e.add_argument("--batch-size", type=setting_type(catalog.BATCH_SIZE), default=256)
    e.set_defaults(handler=embed)


def _refusals() -> tuple[type[Exception], ...]:
    from core.checkpoints.checkpoint import CheckpointError
    from core.datamap.project import MapError
    from core.evaluate import EvaluationError
    from core.familiarity.errors import FamiliarityError

    return CheckpointError, EvaluationError, FamiliarityError, MapError


def familiarity(args) -> int:
    from core.familiarity.bank_file import load_bank
    from core.familiarity.jobs import build_bank, open_checkpoint

    try:
        loaded = open_checkpoint(args.checkpoint)
        path = build_bank(loaded.checkpoint, args.dataset, out=args.out, device=args.device,
                          batch_size=args.batch_size)
        bank = load_bank(path, loaded.checksum)
    except _refusals() as exc:
        raise CommandError(str(exc), exit_codes.FAILED) from None
    on = "validation images" if bank.calibrated_on == "val" else "training images (too few validation images)"
    print(f"{path}: {len(bank.ids)} training images, {len(bank.views)} block views; familiar when the score is "
          f"at least {bank.calibration.threshold:.2f} (95 % of the {len(bank.reference)} {on} are)")
    return exit_codes.OK


def embed(args) -> int:
    from core.datamap.embed import embed as embed_map

    try:
        result = embed_map(args.checkpoint, args.dataset, args.out, args.method, device=args.device,
                           batch_size=args.batch_size, seed=args.seed)
    except _refusals() as exc:
        raise CommandError(str(exc), exit_codes.FAILED) from None
    for note in result.notes:
        print(f"layerscope embed: {note}", file=sys.stderr)
    print(f"{result.csv}\n{result.png}\n{len(result.familiarity)} images; "
          f"{int((~result.familiar).sum())} less familiar than 95 % of the validation images")
    return exit_codes.OK
