"""The Model tab: build a network (MLP, CNN, torchvision) and see it as it is built."""
from gui.model_view.model_view import ModelView

__all__ = ["ModelView"]
