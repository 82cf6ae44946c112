"""Models by name: a registry of factories, and the ModelSpec that checkpoints store to rebuild a model."""
from core.models.registry import MODEL_NAMES, ModelSpec, ModelError, build_model
from core.models.summary import LayerRow, layer_summary

__all__ = ["MODEL_NAMES", "ModelSpec", "ModelError", "build_model", "LayerRow", "layer_summary"]
