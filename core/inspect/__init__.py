"""Looking inside a model: layer activations, feature mosaics, statistics, first-layer filters, saliency.

No Qt here. `inspect_image` is the one call the GUI inspector and `layerscope inspect` both use;
`inspect_to_folder` writes the same views as PNG files plus a JSON summary.
"""
from core.inspect.activations import LayerInfo, capture_activations, forward_with_activations, list_layers
from core.inspect.filters import first_layer_filters
from core.inspect.inspection import Inspection, LayerView, inspect_image
from core.inspect.mosaic import Mosaic, feature_mosaic, to_rgb8, vector_image
from core.inspect.saliency import (SaliencyUnavailable, default_cam_layer, grad_cam, integrated_gradients,
                                   overlay, saliency_map)
from core.inspect.stats import layer_stats

__all__ = [
    "LayerInfo", "capture_activations", "forward_with_activations", "list_layers", "first_layer_filters",
    "Inspection", "LayerView", "inspect_image", "Mosaic", "feature_mosaic", "to_rgb8", "vector_image",
    "SaliencyUnavailable", "default_cam_layer", "grad_cam", "integrated_gradients", "overlay", "saliency_map",
    "layer_stats",
]
