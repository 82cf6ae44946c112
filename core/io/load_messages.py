"""What a loader's refusal says to the user, without its advice to load unsafely.

torch's weights-only refusal says "Re-running torch.load with weights_only set to False will likely succeed",
numpy's says "... when allow_pickle=False": both invite the one thing a file from elsewhere must never get,
unpickling, which runs code. Layerscope never passes that advice on: `loader_reason(exc)` says what the file
holds instead. Torch-free, so every edge (the CLI, the GUI's workers, core's loaders) can use it.
"""
from __future__ import annotations

import re

_UNSAFE_ADVICE = ("weights_only", "weights only load failed", "allow_pickle", "pickle")
_GLOBAL = re.compile(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL)\s+([\w.]+)")
REFUSED = ("it holds Python objects{what}, not only plain tensors and numbers; Layerscope never unpickles a file, "
           "because that could run code from it")


def gives_unsafe_advice(text: str) -> bool:
    lower = text.lower()
    return any(word in lower for word in _UNSAFE_ADVICE)


def loader_reason(exc: BaseException, limit: int = 200) -> str:
    """The first line of a loader's error, or, when it advises unsafe loading, what the file holds instead."""
    text = str(exc).strip()
    if gives_unsafe_advice(text):
        found = _GLOBAL.search(text)
        return REFUSED.format(what=f" ({found.group(1)})" if found else "")
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:limit]
