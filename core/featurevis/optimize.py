"""Optimise pictures to excite units: the loop of feature visualization.

Each step: the pictures (parameterization.py) -> the model's own normalisation -> a random jitter, scale and
rotation (robustness.py) -> a forward pass that stops at the target layer -> gradient ascent on each
picture's own unit. Several units are optimised as one batch (the model is in eval mode, so pictures do not
interact); each picture has its own random generator, seeded from (seed, layer, unit), so a picture is the
same whatever else shares its batch, and the same for the same seed. Only the pictures get gradients
(torch.autograd.grad), never the model's weights. Cancel is checked before every step.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn

from core.catalog import VIS_STEPS
from core.data.transforms import Preprocess
from core.featurevis import robustness
from core.featurevis.parameterization import FourierImage, PixelImage
from core.featurevis.units import OBJECTIVES, layer_output, unit_values
from core.models.hooks import evaluating, model_device
from core.progress import NO_PROGRESS, Progress


# A channel's strongest position is sought away from the map's edge: a position whose window hangs over the
# padding sees fewer pixels, yet once it leads, the max passes the gradient to it alone and it stays ahead
# (a local optimum the first tests found on 1 in 8 first-layer channels).
EDGE_MARGIN = 1


@dataclass(frozen=True)
class VisSettings:
    steps: int = VIS_STEPS.default
    lr: float = 0.05  # Adam's step, Lucid's default
    seed: int = 0
    objective: str = "max"  # for conv channels; see units.OBJECTIVES
    fourier: bool = True
    decorrelate: bool = True
    decay_power: float = 1.0
    transforms: bool = True
    first_layer_contrast: float = 1.0  # data stds; see first_layer_penalty
    first_layer_steps: int = 64  # a first layer's known optimum is reached in tens of steps (correlation >= 0.97)
    batch_size: int = 16  # units optimised together

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r}: use one of {', '.join(OBJECTIVES)}")
        if self.steps < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError("steps and batch size must be at least 1, and the learning rate positive")

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self, image_size: int) -> str:
        """What the pictures depend on besides the weights (batch size excluded: it changes only speed)."""
        d = {k: v for k, v in self.to_dict().items() if k != "batch_size"}
        d["robustness"] = self.robustness(image_size).to_dict()
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    def robustness(self, image_size: int) -> robustness.Robustness:
        return robustness.Robustness.for_size(image_size) if self.transforms else robustness.Robustness.none()


@dataclass
class Synthesis:
    pictures: torch.Tensor  # [N, C, H, W] in [0, 1]
    units: list[int]
    layer: str
    objective_trace: list[list[float]] = field(default_factory=list)  # per batch: the summed objective per step


def unit_generator(seed: int, layer: str, unit: int) -> torch.Generator:
    digest = hashlib.sha256(f"{seed}|{layer}|{unit}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def normaliser(pre: Preprocess, device: torch.device):
    mean = torch.tensor(pre.mean[:pre.channels], dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(pre.std[:pre.channels], dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return lambda pixels: (pixels - mean) / std


def synthesize(model: nn.Module, pre: Preprocess, layer: str, units: list[int], settings: VisSettings = VisSettings(),
               progress: Progress = NO_PROGRESS, first_layer: bool = False) -> Synthesis:
    """Pictures [len(units), C, S, S] in [0, 1] (C, S: the model's channels and input size) that excite each
    unit of `layer` (units.OUTPUT for classes). The progress counts optimisation steps over all batches; a
    cancel is heard before every step (core.errors.Cancelled)."""
    device = model_device(model)
    result = Synthesis(torch.empty(0), list(units), layer)
    batches = [units[i:i + settings.batch_size] for i in range(0, len(units), settings.batch_size)]
    steps = min(settings.steps, settings.first_layer_steps) if first_layer else settings.steps
    chunks = []
    with evaluating(model):
        for b, batch in enumerate(batches):
            penalty = first_layer_penalty(model, layer, batch, settings) if first_layer else None
            pictures, trace = _optimise_batch(model, pre, layer, batch, settings, steps, device, progress, penalty,
                                              (b * steps, steps * len(batches)))
            chunks.append(pictures)
            result.objective_trace.append(trace)
    result.pictures = torch.cat(chunks) if chunks else torch.empty(0, pre.channels, pre.image_size, pre.image_size)
    return result


def first_layer_penalty(model: nn.Module, layer: str, units: list[int], settings: VisSettings) -> torch.Tensor | None:
    """[B] weights of an L2 penalty on the picture (Simonyan et al. 2013) for units of a layer that reads the
    picture itself. Such a unit is linear in the picture: with no penalty its optimum is a corner of the pixel
    box (the sign of its weights, saturated); with a penalty lambda * |x|^2 it is the weights themselves,
    w / (2 lambda). lambda = rms(w) / (2 * contrast) makes that optimum `contrast` data stds strong whatever
    the weights' scale. Measured on a tiny CNN (tests/core/test_featurevis.py): contrast 1 gives pictures
    whose patch correlates 0.92-0.99 with the weights; 1.5 and 2 excite the unit more but saturate pixels
    and fall to 0.74-0.94. So a first-layer picture is its filter at one data std of contrast, and a real
    image in saturated colours may excite the unit more (a ratio below 1 there is expected; the weight
    correlation is that layer's check). Such units also get no random transforms (see _optimise_batch).
    Deeper units are not penalised: their nonlinearity bounds the optimum, and one fixed penalty would swamp
    units whose activations are small."""
    weight = getattr(dict(model.named_modules()).get(layer), "weight", None)
    if not isinstance(weight, torch.Tensor) or settings.first_layer_contrast <= 0 or weight.shape[0] <= max(units):
        return None
    rms = weight.detach()[units].float().flatten(1).pow(2).mean(1).sqrt().clamp(min=1e-12)
    return rms / (2 * settings.first_layer_contrast)


def _optimise_batch(model, pre: Preprocess, layer: str, units: list[int], settings: VisSettings, steps: int, device,
                    progress: Progress, penalty: torch.Tensor | None,
                    count: tuple[int, int]) -> tuple[torch.Tensor, list[float]]:
    """count: (steps done before this batch, steps of the whole synthesis), for the progress bar."""
    size, channels = pre.image_size, pre.channels
    init_gens = [unit_generator(settings.seed, layer, u) for u in units]
    step_gens = [unit_generator(settings.seed + 1, layer, u) for u in units]
    if settings.fourier:
        param = FourierImage(len(units), channels, size, init_gens, settings.decay_power, settings.decorrelate,
                             pre.mean)
    else:
        param = PixelImage(len(units), channels, size, init_gens, pre.mean)
    param = param.to(device)
    weights = list(param.parameters())
    optimiser = torch.optim.Adam(weights, lr=settings.lr)
    normalise = normaliser(pre, device)
    targets = torch.tensor(units, dtype=torch.long, device=device)
    # A first layer's optimum is known exactly (see first_layer_penalty); random shifts would only blur it
    # (a linear unit under random shifts is maximised by its weights averaged over the shifts).
    warp = settings.robustness(size) if settings.transforms and penalty is None else None
    trace = []
    for step in range(steps):
        progress.check_cancelled()
        picture = normalise(param())
        x = robustness.apply(picture, robustness.random_affine(len(units), warp, size, step_gens)) \
            if warp is not None else picture
        objective = unit_values(layer_output(model, layer, x), targets, settings.objective, EDGE_MARGIN).sum()
        if penalty is not None:
            objective = objective - (penalty * picture.pow(2).flatten(1).sum(1)).sum()
        grads = torch.autograd.grad(objective, weights)
        optimiser.zero_grad(set_to_none=True)
        for w, g in zip(weights, grads):
            w.grad = -g  # ascent
        optimiser.step()
        trace.append(objective.detach())  # read once at the end: no device sync per step
        progress.update(count[0] + step + 1, count[1], f"step {count[0] + step + 1}/{count[1]}")
    with torch.no_grad():
        return param().detach().cpu(), torch.stack(trace).cpu().tolist()


def to_uint8(pictures: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] in [0, 1] -> uint8 [N, H, W, C] (what is saved and drawn)."""
    return (pictures.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
