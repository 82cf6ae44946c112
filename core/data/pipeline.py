"""The one image pipeline: a file (or its bytes) -> the tensor a model sees.

Every path that turns an image into a model input goes through here: training and validation (the in-memory
cache and files read per batch), evaluate, label issues, the dossier and its probes, predict, the inspector
and the export's verification. So the same file gives the same probabilities everywhere. Three steps, each
written once:

1. `decode`: the one safe loader (core.io.images) under the checkpoint's decode rule (`Preprocess.decode`):
   "reduced" lets libjpeg decode a JPEG at 1/2, 1/4 or 1/8 scale while both sides stay at least the side
   the model wants (1.7x faster on the ant/bee photos at 64 px, more on camera-sized photos); other formats
   are decoded whole. "full" decodes every pixel.
2. `fit`: the shorter side resized to S (Pillow, bilinear with antialiasing), then the centre S x S
   (training images with a random crop keep their whole frame, a little larger than S), as uint8 [C, H, W].
3. `Normalise`: the model's channels (ITU-R 601 luma for a 1-channel model), scaled to 0..1, minus the mean,
   over the std.
Training adds its augmentation between 2 and 3 (`train_transform`).
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Union

import torch
from PIL import Image
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from core.data.transforms import DECODE_REDUCED, Augmentation, Preprocess
from core.io.images import Source, load_image

Pixels = torch.Tensor  # uint8 [C, H, W]


def decode(source: Source, rule: str, side: int, *, name: str | None = None) -> Image.Image:
    """`source` as an RGB image, decoded under `rule` for a model that wants `side` pixels (ImageLoadError
    names the file when it cannot be read)."""
    return load_image(source, name=name, draft_size=side if rule == DECODE_REDUCED else None)


def fit(image: Union[Image.Image, Pixels], side: int, crop: bool = True) -> Pixels:
    """The eval geometry: shorter side = `side`, then (if `crop`) the centre `side` x `side`. uint8 [C, H, W]."""
    if isinstance(image, torch.Tensor):
        if crop and tuple(image.shape[-2:]) == (side, side):
            return image  # already fitted (the cache): resizing and cropping to its own size changes nothing
        image = TF.to_pil_image(image)  # in-memory sets: the same Pillow resize as a decoded file
    image = TF.resize(image, side, antialias=True)
    if crop:
        image = TF.center_crop(image, side)
    return TF.pil_to_tensor(image)


def decode_pixels(source: Source, rule: str, side: int, crop: bool = True, *, name: str | None = None) -> Pixels:
    """decode + fit: one file -> uint8 [3, H, W] with the shorter side `side` (square if `crop`)."""
    return fit(decode(source, rule, side, name=name), side, crop)


def match_channels(x: Pixels, channels: int) -> Pixels:
    """uint8 [C, H, W] -> `channels` channels: grayscale repeated for an RGB model, RGB -> luma for a 1-channel one."""
    if x.shape[0] == channels:
        return x
    if x.shape[0] == 1:
        return x.expand(channels, -1, -1)
    if channels == 1:  # ITU-R 601 luma, as PIL's convert("L")
        w = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        return (x[:3].float() * w).sum(0, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
    return x


class Normalise:
    """uint8 pixels [C, H, W] (any channels) -> the model's normalised float32 input [channels, H, W]."""

    def __init__(self, pre: Preprocess):
        self.channels = pre.channels
        self.mean = torch.tensor(pre.mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(pre.std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, pixels: Pixels) -> torch.Tensor:
        return (match_channels(pixels, self.channels).float().div_(255.0) - self.mean) / self.std


def eval_pixels(source: Source, pre: Preprocess, *, name: str | None = None) -> Pixels:
    """One file -> uint8 [3, S, S], decoded and fitted as `pre` says (what the model sees, before normalising)."""
    return decode_pixels(source, pre.decode, pre.image_size, name=name)


def model_input(source: Source, pre: Preprocess, *, name: str | None = None) -> torch.Tensor:
    """One file (a path or its bytes) -> the model's input [C, S, S]."""
    return Normalise(pre)(eval_pixels(source, pre, name=name))


def image_input(image: Image.Image, pre: Preprocess) -> torch.Tensor:
    """An image already decoded by `decode(..., pre.decode, pre.image_size)` -> the model's input [C, S, S]."""
    return Normalise(pre)(fit(image, pre.image_size))


def eval_transform(pre: Preprocess) -> Callable[[Pixels], torch.Tensor]:
    """uint8 pixels of any size (an in-memory set at another size) -> the model's input: fit, then normalise."""
    return T.Compose([partial(fit, side=pre.image_size), Normalise(pre)])


def train_transform(pre: Preprocess, aug: Augmentation) -> Callable[[Pixels], torch.Tensor]:
    """Decoded uint8 pixels -> a training input: the eval geometry (or a random resized crop), the augmentation,
    then the same normalisation as every other input."""
    geometry: list = []
    if aug.random_resized_crop:
        geometry.append(T.RandomResizedCrop(pre.image_size, scale=(aug.crop_scale_min, 1.0), antialias=True))
    else:
        geometry.append(partial(fit, side=pre.image_size))
    if aug.horizontal_flip:
        geometry.append(T.RandomHorizontalFlip())
    if aug.rotation_degrees > 0:
        geometry.append(T.RandomRotation(aug.rotation_degrees))
    colour = [T.ColorJitter(aug.colour_jitter, aug.colour_jitter, aug.colour_jitter)] if aug.colour_jitter > 0 else []
    return T.Compose([*geometry, *colour, Normalise(pre)])
