"""The picture being optimised: a Fourier (FFT) parameterisation with decorrelated colour, as in Lucid.

Written by hand in torch rather than taken from Lucent: Lucent is unmaintained (last release 2021), upsamples
every picture to 224 px (blurry pictures for 28-64 px networks) and breaks on custom models. The two ideas are
Lucid's (Olah et al., "Feature Visualization", Distill 2017):
- optimise the picture's spectrum, each frequency scaled by 1/f, so plain gradient steps favour the natural
  1/f statistics of images over the high-frequency noise that excites a unit just as well;
- optimise colours in a decorrelated basis (the square root of ImageNet's colour covariance), so each
  parameter moves one independent colour direction.
A sigmoid keeps pixels in [0, 1]. Unlike Lucid (which starts at grey 0.5, ImageNet's mean), pictures start at
the data's own mean colour, the model's neutral input: MNIST's mean is 0.13, and a start at 0.5 would be 1.2
stds away from anything the model has seen. The model's normalisation is applied after (see optimize.py).
"""
from __future__ import annotations

import torch

# Lucid's square root of ImageNet's colour correlation (its SVD), columns scaled to a largest norm of 1.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02],
                             [0.27, 0.00, -0.05],
                             [0.27, -0.09, 0.03]])
COLOUR_CORRELATION = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()
INIT_SD = 0.01  # Lucid's: start near plain grey
SPECTRUM_GAIN = 4.0  # Lucid's "magic" divisor on the spatial image; it keeps the sigmoid out of saturation


def spectrum_scale(height: int, width: int, decay_power: float = 1.0) -> torch.Tensor:
    """[H, W//2+1] weights 1/f^decay_power of the real FFT's frequencies (the DC term at 1/max(H, W))."""
    fy = torch.fft.fftfreq(height).unsqueeze(1)
    fx = torch.fft.rfftfreq(width).unsqueeze(0)
    freqs = torch.sqrt(fx * fx + fy * fy).clamp(min=1.0 / max(height, width))
    # Under norm="ortho" the pixel spread this weighting gives grows only with log(side) (about 1.3x from
    # 32 to 224 px), so Lucid's settings serve 28 px pictures as well as 224 px ones.
    return freqs.pow(-decay_power)


class FourierImage(torch.nn.Module):
    """`batch` pictures of `channels` x `size` x `size` pixels in [0, 1], made from a learnable spectrum.

    Three channels are decorrelated with COLOUR_CORRELATION; one channel (a greyscale model) is plain grey.
    `generators`: one torch.Generator per picture, so each picture starts the same whatever batch it is in."""

    def __init__(self, batch: int, channels: int, size: int, generators: list[torch.Generator],
                 decay_power: float = 1.0, decorrelate: bool = True, mean: tuple[float, ...] | None = None):
        super().__init__()
        if len(generators) != batch:
            raise ValueError(f"need one generator per picture ({batch}), got {len(generators)}")
        self.size, self.channels = int(size), int(channels)
        freq_w = self.size // 2 + 1
        init = torch.stack([torch.randn(channels, self.size, freq_w, 2, generator=g) for g in generators]) * INIT_SD
        self.spectrum = torch.nn.Parameter(init)
        self.register_buffer("scale", spectrum_scale(self.size, self.size, decay_power)[None, None, :, :, None])
        self.decorrelate = bool(decorrelate) and channels == 3
        self.register_buffer("offset", mean_logits(mean, channels))

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex((self.spectrum * self.scale).contiguous())
        image = torch.fft.irfft2(spectrum, s=(self.size, self.size), norm="ortho") / SPECTRUM_GAIN
        if self.decorrelate:
            image = torch.einsum("bchw,dc->bdhw", image, COLOUR_CORRELATION.to(image))
        return torch.sigmoid(image + self.offset)



def mean_logits(mean: tuple[float, ...] | None, channels: int) -> torch.Tensor:
    """[1, C, 1, 1] sigmoid inputs that give the mean colour (0.5 grey when no mean is known)."""
    values = torch.tensor(list(mean)[:channels] if mean is not None else [0.5] * channels, dtype=torch.float32)
    return torch.logit(values.clamp(0.02, 0.98)).view(1, channels, 1, 1)


class PixelImage(torch.nn.Module):
    """The plain alternative (one parameter per pixel, through the same sigmoid): for comparisons only; its
    pictures fill with high-frequency noise that excites the unit as well as a pattern does."""

    def __init__(self, batch: int, channels: int, size: int, generators: list[torch.Generator],
                 mean: tuple[float, ...] | None = None):
        super().__init__()
        init = torch.stack([torch.randn(channels, size, size, generator=g) for g in generators]) * INIT_SD
        self.logits = torch.nn.Parameter(init)
        self.register_buffer("offset", mean_logits(mean, channels))

    def forward(self) -> torch.Tensor:
        return torch.sigmoid(self.logits + self.offset)
