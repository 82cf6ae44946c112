"""How the main window takes in the Data and Model tabs; kept here so the window stays a composition.

    self.data_view, self.model_view, action = install_data_views(self)   # in MainWindow.__init__
    settings = prepare_run(self, settings)   # in start_training: + the tabs' options (then ModelView.confirm_run)

The training panel owns the run's form (dataset, model, batch size, device); the Data and Model tabs add
what the form has no room for (image size, validation share, augmentation, model options, fine-tuning).
Choosing in one place selects in the others; `apply_view_settings` puts the tabs' options into the
RunSettings the panel builds. The Data tab's choices are remembered with the window's other settings.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from gui.data.data_view import KNOWN_DATASETS, DataView
from gui.model_view import ModelView


def install_data_views(window) -> tuple[DataView, ModelView, QAction]:
    """The Data and Model tabs (after Train), File > Open Dataset… (Ctrl+D, returned), and the links to the
    panel."""
    data_view, model_view = DataView(window), ModelView(window)
    window.tabs.insertTab(1, data_view, "Data")
    window.tabs.insertTab(2, model_view, "Model")
    action = QAction("Open &Dataset…", window)
    action.setShortcut(QKeySequence("Ctrl+D"))
    action.setToolTip("Open a folder of images, one sub-folder per class, as the dataset")
    action.triggered.connect(lambda: (window.tabs.setCurrentWidget(data_view), data_view.choose_folder()))
    file_menu = window.menus["file"]
    actions = file_menu.actions()
    file_menu.insertAction(actions[2] if len(actions) > 2 else None, action)  # after Open Checkpoint / Open Image
    ready = window.engine_loaded()
    data_view.set_engine_ready(ready)
    model_view.set_engine_ready(ready)
    window.engineReady.connect(lambda: (data_view.set_engine_ready(True), model_view.set_engine_ready(True)))
    link_views(window.panel, data_view, model_view)
    restore_data_settings(window.app_settings, data_view)
    return data_view, model_view, action


def prepare_run(window, settings):
    """The panel's RunSettings plus the tabs' options (the Data tab's are remembered too)."""
    settings = apply_view_settings(settings, window.data_view, window.model_view)
    save_data_settings(window.app_settings, window.data_view)
    return settings


def save_data_settings(app_settings, data_view: DataView) -> None:
    app_settings.save_section("data/options", data_view.data_options())
    app_settings.save_section("data/augmentation", data_view.augmentation_dict())


def restore_data_settings(app_settings, data_view: DataView) -> None:
    data_view.set_data_options(app_settings.load_section("data/options"))
    augmentation = app_settings.load_section("data/augmentation")
    if augmentation:
        try:
            data_view.augmentation_panel.set_augmentation(augmentation)
        except (TypeError, ValueError):
            pass  # a damaged entry: keep the defaults rather than fail to start


def shutdown_data_views(window) -> None:
    save_data_settings(window.app_settings, window.data_view)
    window.data_view.shutdown()
    window.model_view.shutdown()


def link_views(panel, data_view: DataView, model_view: ModelView) -> None:
    """Two-way links: dataset, model and batch size; device and the dataset's shape one way."""
    for name in KNOWN_DATASETS:
        if name != "shapes":
            panel.add_dataset(name, name)

    def panel_dataset_changed(_index: int) -> None:
        name = panel.dataset.currentData()
        if name:
            data_view.open_dataset(name, from_panel=True)

    def data_view_opened(name: str) -> None:
        if panel.dataset.currentData() != name:
            panel.select_dataset(name)

    def panel_model_changed(name: str) -> None:
        if name and name != model_view.model_name():
            model_view.builder.set_model_name(name)

    def view_model_changed(name: str) -> None:
        if panel.model.findText(name) >= 0 and panel.model.currentText() != name:
            panel.model.setCurrentText(name)

    panel.dataset.currentIndexChanged.connect(panel_dataset_changed)
    data_view.dataset_opened.connect(data_view_opened)
    data_view.input_changed.connect(model_view.set_input)
    panel.model.currentTextChanged.connect(panel_model_changed)
    model_view.builder.model_combo.currentTextChanged.connect(view_model_changed)
    panel.batch_size.valueChanged.connect(model_view.set_batch_size)
    model_view.batch_size.valueChanged.connect(panel.batch_size.setValue)
    panel.device.currentTextChanged.connect(model_view.set_device)
    # Start in step with whatever the panel shows now.
    model_view.set_batch_size(panel.batch_size.value())
    model_view.set_device(panel.device.currentText())
    panel_model_changed(panel.model.currentText())
    panel_dataset_changed(panel.dataset.currentIndex())


def apply_view_settings(settings, data_view: DataView, model_view: ModelView):
    """RunSettings from the panel + the Data tab's augmentation + the Model tab's options for that model."""
    settings.data.augmentation = data_view.augmentation()
    options = data_view.data_options()
    settings.data.image_size = options["image_size"]
    settings.data.val_fraction = options["val_fraction"]
    if model_view.model_name() == settings.model_name:
        settings.model_options = {**settings.model_options, **model_view.model_options()}
        for key, value in model_view.train_overrides().items():
            setattr(settings.train, key, value)
    return settings
