"""The Data tab: open a dataset, check its health, browse its images, choose augmentation."""
from gui.data.data_view import DataView

__all__ = ["DataView"]
