"""The inspector's "Add to dataset…": copy the shown image into a chosen class folder of the current dataset.

For an image the model got wrong: it becomes training data for the next run. The copy is made by
core/data/add_image.py (unique name, never an overwrite); built-in datasets are refused with the reason.
"""
from __future__ import annotations

from PySide6.QtWidgets import QInputDialog


def add_current_image(panel) -> str | None:
    """Ask for the class and copy the image; returns the new file, or None (refused or cancelled)."""
    from core.data.add_image import add_image, dataset_classes
    from core.data.folder import DatasetError

    source = panel.current_source()
    if source is None:
        return _refuse(panel, "Inspect an image first, then add it to the dataset")
    if source.path is None and source.data is None:
        return _refuse(panel, f"{source.label} was downloaded, not opened from a file: save it and drop the file "
                              "to add it to the dataset")
    dataset = panel.dataset_provider()
    try:
        classes = dataset_classes(dataset)
    except DatasetError as exc:
        return _refuse(panel, f"Cannot add {source.label} to the dataset: {exc}")
    if not classes:
        return _refuse(panel, f"Cannot add {source.label}: {dataset} has no class folders")
    predicted = panel.detail.inspection.prediction[0][0] if panel.detail is not None else None
    start = next((i for i, c in enumerate(classes) if c != predicted), 0)  # the model's answer was wrong
    name, ok = QInputDialog.getItem(panel, "Add to dataset", f"Copy {source.label} into the class folder:",
                                    classes, start, False)
    if not ok:
        return None
    try:
        added = add_image(dataset, name, path=source.path, data=source.data, name=source.label)
    except DatasetError as exc:
        return _refuse(panel, f"Cannot add {source.label} to the dataset: {exc}")
    panel.banner.show_message("info", f"Added {source.label} to class '{name}' as {added}")
    panel.message.emit("info", f"Added {source.label} to class '{name}' of the dataset as {added}")
    return str(added)


def _refuse(panel, text: str) -> None:
    panel.banner.show_message("warning", text)
    panel.message.emit("warning", text)
    return None
