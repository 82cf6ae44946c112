"""The inspection jobs themselves, run on the inspector's background task: plain Python over core (no Qt).

Every model used here is built from a checkpoint (a CPU copy of the weights) and kept in eval mode, so
inspecting while a run trains never touches the live training model. Heavy imports (torch, core.inspect)
happen here, lazily, so the window can show before torch is loaded.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.io.images import ImageLoadError
from gui.inspector.results import DetailResult, FamiliarityShown, RowResult, SaliencyResult, is_vector_shape
from gui.inspector.sources import ImageSource

THUMBNAIL_PX = 48
NEIGHBOUR_THUMBNAIL_PX = 56
URL_CACHE_ENTRIES = 16
MODEL_UNUSABLE = "the model cannot be used"
FILTER_SCALE, FILTER_GAP = 8, 2  # first-layer filters: each weight 8 x 8 pixels, tiles 2 pixels apart


class InspectionJobs:
    """Builds one Predictor per checkpoint (cached: the same checkpoint object is built once) and caches
    downloaded URL bytes, so choosing another row of a drop does not download the image again."""

    def __init__(self):
        self._lock = threading.Lock()
        self._checkpoint = None
        self._predictor = None
        self._url_bytes: OrderedDict[str, bytes] = OrderedDict()
        self._bank_key = None  # (checkpoint id, bank file's mtime): the bank below was read for it
        self._bank = None

    # ---- models --------------------------------------------------------------------------------------
    def predictor_for(self, checkpoint):
        with self._lock:
            if checkpoint is self._checkpoint and self._predictor is not None:
                return self._predictor
            previous, predictor = self._checkpoint, self._predictor
        if predictor is not None and _same_model(previous, checkpoint):
            # A newer checkpoint of the same network (an epoch end, live weights for a pinned probe):
            # copy its weights into our model instead of building the network again.
            predictor.model.load_state_dict(checkpoint.model_state)
        else:
            from core.checkpoints.predict import Predictor

            # build_model() loads the checkpoint's weights into a brand-new module: a copy, in eval mode.
            predictor = Predictor(checkpoint.build_model(), checkpoint.classes, checkpoint.preprocess)
        with self._lock:
            self._checkpoint, self._predictor = checkpoint, predictor
        return predictor

    # ---- images --------------------------------------------------------------------------------------
    def load(self, source: ImageSource, predictor):
        """The image decoded as `predictor`'s checkpoint says (core.data.pipeline), so the inspector's
        probabilities are those of evaluate and predict for the same file."""
        if source.url is None:
            return predictor.load(source.path if source.path is not None else (source.data or b""),
                                  name=None if source.path is not None else source.label)
        with self._lock:
            data = self._url_bytes.get(source.url)
        if data is None:
            from gui.inspector.sources import fetch_url

            data = fetch_url(source.url)
            with self._lock:
                self._url_bytes[source.url] = data
                while len(self._url_bytes) > URL_CACHE_ENTRIES:
                    self._url_bytes.popitem(last=False)
        return predictor.load(data, name=source.url)

    # ---- jobs ----------------------------------------------------------------------------------------
    def classify_row(self, generation: int, row: int, source: ImageSource, checkpoint, top_k: int) -> RowResult:
        """Top-k for one image of a drop, or the reason it cannot be read (the other rows go on)."""
        try:
            predictor = self.predictor_for(checkpoint)
        except Exception as exc:  # weights that do not fit the network: say so on every row, go on
            return RowResult(generation, row, source.label, source.where, error=f"{MODEL_UNUSABLE} ({exc})")
        try:
            image = self.load(source, predictor)
        except ImageLoadError as exc:
            return RowResult(generation, row, source.label, source.where, error=exc.reason)
        bank, _note = self.bank_for(checkpoint)
        top, familiarity = None, None
        if bank is not None:
            try:  # one forward for the prediction and the familiarity
                top, familiarity = _scored_top(predictor, bank, image, top_k)
            except Exception:  # a bank that does not fit: the prediction alone, familiarity unknown
                top = None
        try:
            top = top if top is not None else predictor.classify(image, top_k)
        except Exception as exc:  # a model that cannot take this input must not stop the others
            return RowResult(generation, row, source.label, source.where, error=f"the model failed on it ({exc})")
        return RowResult(generation, row, source.label, source.where, top, thumbnail(image),
                         familiarity=familiarity)

    def inspect(self, generation: int, row: int, source: ImageSource, checkpoint, top_k: int, scaling: str,
                model_source: str = "") -> DetailResult:
        from core.inspect import default_cam_layer, first_layer_filters, inspect_image

        predictor = self.predictor_for(checkpoint)
        try:
            image = self.load(source, predictor)
        except ImageLoadError as exc:
            return DetailResult(generation, row, source.label, error=f"{source.label}: {exc.reason}")
        inspection = inspect_image(predictor, image, top_k=top_k, scaling=scaling)
        for view in inspection.layers:
            if not is_vector_shape(view.shape):
                view.activation = None  # feature maps are drawn from the mosaic; keep only vectors' raw values
        model = predictor.model
        try:
            filters = first_layer_filters(model, scale=FILTER_SCALE, pad=FILTER_GAP)
        except Exception:  # filters are a bonus view; a model without a usable first layer has none
            filters = None
        conv_layers = [name for name, module in model.named_modules() if _is_conv(module)]
        try:
            cam_layer = default_cam_layer(model)
        except Exception:
            cam_layer = None
        return DetailResult(generation, row, source.label, inspection, filters, conv_layers, cam_layer,
                            list(checkpoint.classes), model_source, id(model),
                            familiarity=self.familiarity(predictor, checkpoint, image))

    # ---- familiarity ---------------------------------------------------------------------------------
    def bank_for(self, checkpoint):
        """(the checkpoint's feature bank or None, why it is unknown). Read once per checkpoint and bank file."""
        from core.familiarity.bank_file import bank_path
        from core.familiarity.errors import BankError
        from core.familiarity.jobs import bank_for_checkpoint

        if not checkpoint.source:
            return None, "these weights are not a checkpoint file (a live run's weights)"
        path = bank_path(checkpoint.source)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None, f"no feature bank beside {Path(checkpoint.source).name}"
        key = (id(checkpoint), stamp)
        with self._lock:
            if key == self._bank_key:
                return self._bank, ""
        try:
            bank = bank_for_checkpoint(checkpoint)
        except BankError as exc:
            return None, str(exc)
        with self._lock:
            self._bank_key, self._bank = key, bank
        return bank, ""

    def familiarity(self, predictor, checkpoint, image) -> FamiliarityShown:
        """The image's familiarity with thumbnails of its nearest training images (files only)."""
        from core.familiarity.jobs import score_inputs

        bank, note = self.bank_for(checkpoint)
        can_compute = bool(checkpoint.source)
        if bank is None:
            return FamiliarityShown(None, note, can_compute)
        try:
            scored = score_inputs(predictor.model, bank, predictor.to_input(image))
        except Exception as exc:  # a bank that does not fit this model: unknown, with the reason
            return FamiliarityShown(None, f"the feature bank does not fit this model ({exc})", can_compute)
        familiarity = scored.familiarity[0]
        return FamiliarityShown(familiarity, "", can_compute, bank.calibrated_on,
                                [_file_thumbnail(n.path) for n in familiarity.nearest])

    def build_bank(self, checkpoint, progress) -> str:
        from core.familiarity.jobs import build_bank

        return str(build_bank(checkpoint, progress=progress))

    def saliency(self, generation: int, source: ImageSource, checkpoint, method: str, target: int,
                 layer: str | None, compare_target: int | None = None) -> SaliencyResult:
        """The map for `target`, and for `compare_target` too when given (two maps side by side)."""
        from core.inspect import SaliencyUnavailable, grad_cam, integrated_gradients, saliency_map

        predictor = self.predictor_for(checkpoint)
        try:
            image = self.load(source, predictor)
        except ImageLoadError as exc:
            return SaliencyResult(generation, method, target, layer, error=f"{source.label}: {exc.reason}")
        batch = predictor.to_input(image)

        def one_map(cls: int) -> np.ndarray:
            if method == "gradcam":
                values = grad_cam(predictor.model, batch, cls, layer_name=layer)
            elif method == "integrated_gradients":
                values = integrated_gradients(predictor.model, batch, cls)
            else:
                values = saliency_map(predictor.model, batch, cls)
            return np.asarray(values, dtype=np.float32)

        try:
            heatmap = one_map(target)
            second = one_map(compare_target) if compare_target is not None else None
        except SaliencyUnavailable as exc:
            return SaliencyResult(generation, method, target, layer, error=str(exc))
        except (KeyError, ValueError) as exc:  # a layer or class that this model does not have
            return SaliencyResult(generation, method, target, layer, error=str(exc).strip("'\""))
        return SaliencyResult(generation, method, target, layer, heatmap, compare_target=compare_target,
                              compare_heatmap=second)


def _scored_top(predictor, bank, image, top_k: int):
    import torch

    from core.familiarity.jobs import score_inputs

    scored = score_inputs(predictor.model, bank, predictor.to_input(image))
    k = max(1, min(top_k, len(predictor.classes)))
    values, indices = torch.from_numpy(scored.probabilities[0]).topk(k)
    top = [(predictor.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]
    f = scored.familiarity[0]
    return top, (float(f.score), bool(f.familiar))


def _file_thumbnail(path: str):
    """A nearest image's thumbnail when it is a readable file (an in-memory training image has none here)."""
    from core.io.images import load_image

    if not Path(path).is_file():
        return None
    try:
        return thumbnail(load_image(path), NEIGHBOUR_THUMBNAIL_PX)
    except ImageLoadError:
        return None


def _same_model(a, b) -> bool:
    return (a is not None and a.model_spec == b.model_spec and list(a.classes) == list(b.classes)
            and a.preprocess == b.preprocess)


def _is_conv(module) -> bool:
    import torch.nn as nn

    return isinstance(module, nn.Conv2d)


def thumbnail(image, size: int = THUMBNAIL_PX) -> np.ndarray:
    small = image.copy()
    small.thumbnail((size, size))
    return np.asarray(small.convert("RGB"), dtype=np.uint8).copy()
