"""Every choice a user can make for a run, with its default and limits: the one place they are written.

The CLI's argparse, the GUI's choosers and core's own TrainConfig / DataSpec / RunSettings defaults are built
from here, and tests/core/test_catalog.py checks that the engine's registries (models, optimizers, schedules,
datasets, activations) hold exactly these names. Plain data only: importing this module costs milliseconds and
never imports torch, torchvision or numpy, so the window can build its forms before the engine is loaded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from core.errors import LayerscopeError
from core.runs.layout import BEST, FAMILIARITY, FEATUREVIS, FEATUREVIS_EPOCHS, LAST, LAYER_HEALTH, PROBES



class SettingError(LayerscopeError, ValueError):
    """A value is outside what the catalogue allows; the message names the setting and what to use.
    `key` is the setting's key (what config files and TrainConfig call it)."""

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Choice:
    """One named option of a choice list: `name` is what configs store, `title` what a chooser shows."""

    name: str
    title: str
    help: str = ""


@dataclass(frozen=True)
class ChoiceSetting:
    """A setting picked from a fixed list of Choices."""

    key: str
    label: str
    choices: tuple[Choice, ...]
    default: str
    help: str = ""
    also: tuple[str, str] | None = None  # further values accepted beside the choices: (pattern, how to name them)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.choices)

    def title(self, name: str) -> str:
        return next((c.title for c in self.choices if c.name == name), name)

    def check(self, value: Any) -> str:
        if value in self.names or (self.also and isinstance(value, str) and re.fullmatch(self.also[0], value)):
            return value
        more = f" or {self.also[1]}" if self.also else ""
        raise SettingError(f"{self.label}: {value!r} is not one of {', '.join(self.names)}{more}", self.key)


@dataclass(frozen=True)
class NumberSetting:
    """A number with a default and inclusive limits (`default` None means 'automatic', see `help`)."""

    key: str
    label: str
    default: int | float | None
    minimum: int | float
    maximum: int | float
    help: str = ""
    integer: bool = False
    step: int | float | None = None
    unit: str = ""  # what the number counts ("epochs", "steps"), shown after it in a form
    zero: str = ""  # what 0 means, when it means something special ("Off")

    def check(self, value: Any) -> int | float | None:
        if value is None and self.default is None:  # None is the default: 'automatic'
            return None
        kind = "a whole number" if self.integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                self.integer and not (value == value and abs(value) != float("inf") and value == int(value))):
            raise SettingError(f"{self.label}: {value!r} is not {kind}", self.key)
        if not (self.minimum <= value <= self.maximum):  # also rejects NaN
            raise SettingError(f"{self.label}: {value!r} is outside {self.minimum:g}..{self.maximum:g}", self.key)
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class FlagSetting:
    """An on/off option."""

    key: str
    label: str
    default: bool
    help: str = ""

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise SettingError(f"{self.label}: {value!r} is not on or off (true / false)", self.key)
        return value


@dataclass(frozen=True)
class PathsSetting:
    """A list of files (at most `maximum`), e.g. the images a run follows."""

    key: str
    label: str
    maximum: int
    help: str = ""
    default: tuple[str, ...] = ()

    def check(self, value: Any) -> list[str]:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise SettingError(f"{self.label}: {value!r} is not a list of file paths", self.key)
        if len(value) > self.maximum:
            raise SettingError(f"{self.label}: {len(value)} files, at most {self.maximum}", self.key)
        return list(value)


Setting = ChoiceSetting | NumberSetting | FlagSetting | PathsSetting


def setting_problems(values: Mapping[str, Any], settings: Iterable[Setting]) -> list[SettingError]:
    """What each setting refuses of `values` (a setting without a value there is not looked at)."""
    problems = []
    for setting in settings:
        if setting.key in values:
            try:
                setting.check(values[setting.key])
            except SettingError as exc:
                problems.append(exc)
    return problems


# ---- datasets ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetInfo:
    """A dataset known by name. `kind`: 'builtin' (drawn in code) or 'standard' (torchvision's, downloaded once)."""

    name: str
    title: str  # short name for messages ("MNIST")
    description: str  # what a chooser shows ("MNIST handwritten digits")
    kind: str
    num_classes: int
    channels: int
    image_size: int  # natural size in pixels (square)


DATASETS: dict[str, DatasetInfo] = {d.name: d for d in (
    DatasetInfo("shapes", "Shapes", "Shapes (built-in, drawn in code)", "builtin", 5, 3, 40),
    DatasetInfo("mnist", "MNIST", "MNIST handwritten digits", "standard", 10, 1, 28),
    DatasetInfo("fashion_mnist", "Fashion-MNIST", "Fashion-MNIST clothing", "standard", 10, 1, 28),
    DatasetInfo("cifar10", "CIFAR-10", "CIFAR-10 small photos", "standard", 10, 3, 32),
)}
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)
BUILTIN_DATASETS: tuple[str, ...] = tuple(n for n, d in DATASETS.items() if d.kind == "builtin")
STANDARD_DATASETS: tuple[str, ...] = tuple(n for n, d in DATASETS.items() if d.kind == "standard")
DEFAULT_DATASET = "shapes"
FOLDER_IMAGE_SIZE = 64  # an image folder's natural size (its photos come in any size)


def is_folder_dataset(name: str) -> bool:
    """True when `name` is a folder path rather than a dataset known by name."""
    return name not in DATASETS


def natural_image_size(name: str) -> int:
    return DATASETS[name].image_size if name in DATASETS else FOLDER_IMAGE_SIZE


def shapes_val_count(train_count: int) -> int:
    """How many validation images the shapes set draws for `train_count` training images: an eighth, at least 20."""
    return max(20, int(train_count) // 8)


SHAPES_TRAIN_COUNT = NumberSetting("train_count", "Shapes images", 6000, 20, 1_000_000, integer=True, step=500,
                                   help="shapes: how many training images to draw (validation gets an eighth as many)")
IMAGE_SIZE = NumberSetting("image_size", "Image size", None, 16, 1024, integer=True, step=16,
                           help="input size in pixels; default (auto): the dataset's own (shapes 40, MNIST 28, "
                                "CIFAR-10 32, folders 64); pretrained models use 224")
VAL_FRACTION = NumberSetting("val_fraction", "Validation share", 0.2, 0.05, 0.5, step=0.05,
                             help="validation share when a folder has no val/ sub-folder")
CACHE_MB = NumberSetting("cache_mb", "Image cache (MB)", 1024.0, 0.0, 1_048_576.0,
                         help="folders: decoded small images kept in memory up to this size (0: never)")

# ---- augmentation ------------------------------------------------------------------------------------------
# Each CLI word ("flip", "crop=0.6") turns on one Augmentation field; `on_value` is what the bare word means.
@dataclass(frozen=True)
class AugmentInfo:
    name: str  # the CLI word
    field: str  # the Augmentation field it sets
    on_value: bool | float  # the value the bare word sets
    setting: NumberSetting | FlagSetting  # the field's default (off) and limits


AUGMENTATIONS: dict[str, AugmentInfo] = {a.name: a for a in (
    AugmentInfo("flip", "horizontal_flip", True, FlagSetting("horizontal_flip", "Horizontal flip", False,
                                                             "mirror images left-right at random")),
    AugmentInfo("crop", "random_resized_crop", True, FlagSetting(
        "random_resized_crop", "Random resized crop", False,
        "crop a random part (at least the minimum scale of its area) and resize it")),
    AugmentInfo("rotate", "rotation_degrees", 15.0, NumberSetting(
        "rotation_degrees", "Rotation (degrees)", 0.0, 0.0, 180.0, "rotate by up to this many degrees")),
    AugmentInfo("jitter", "colour_jitter", 0.2, NumberSetting(
        "colour_jitter", "Colour jitter", 0.0, 0.0, 1.0, "brightness, contrast and saturation jitter", step=0.05)),
)}
CROP_SCALE_MIN = NumberSetting("crop_scale_min", "Crop minimum scale", 0.6, 0.05, 1.0, step=0.05,
                               help="random crops keep at least this share of the image's area")

SHAPES_VAL_COUNT = NumberSetting("val_count", "Shapes validation images", shapes_val_count(SHAPES_TRAIN_COUNT.default),
                                 1, 1_000_000, integer=True, help="shapes: how many validation images to draw")

# ---- models --------------------------------------------------------------------------------------------------
ACTIVATION = ChoiceSetting("activation", "Activation", (
    Choice("relu", "ReLU"), Choice("gelu", "GELU"), Choice("tanh", "Tanh"), Choice("sigmoid", "Sigmoid"),
    Choice("leaky_relu", "Leaky ReLU")), "relu", "the non-linearity after each hidden layer")
MLP_HIDDEN_DEFAULT: tuple[int, ...] = (256, 128)
MLP_WIDTH_SUGGESTIONS: tuple[int, ...] = (256, 128, 64, 64, 32, 32, 16, 16)  # a new hidden layer's width, by position
MLP_HIDDEN_LAYERS = NumberSetting("hidden_layers", "Hidden layers", len(MLP_HIDDEN_DEFAULT), 0, 8, integer=True,
                                  help="how many fully connected layers sit between the input and the output")
MLP_WIDTH = NumberSetting("hidden_width", "Width", 256, 1, 65536, integer=True, help="units in one hidden layer")
MLP_DROPOUT = NumberSetting("dropout", "Dropout", 0.0, 0.0, 0.9, step=0.1, help="dropout after each hidden layer")
CNN_BLOCKS = NumberSetting("blocks", "Conv blocks", 4, 1, 6, integer=True,
                           help="each block halves the image size; 64 px input allows up to 6")
CNN_CHANNELS = NumberSetting("channels", "First channels", 16, 1, 512, integer=True,
                             help="channels of the first block; each later block doubles them")
CNN_BATCH_NORM = FlagSetting("batch_norm", "Batch norm after each conv", True)
CNN_DROPOUT = NumberSetting("dropout", "Dropout before output", 0.2, 0.0, 0.9, step=0.1)

WEIGHT_SOURCE = ChoiceSetting("weights", "Weights", (
    Choice("scratch", "From scratch (random weights)"),
    Choice("pretrained", "Pretrained on ImageNet",
           "torchvision's ImageNet weights, downloaded once and kept in the torch hub folder"),
    Choice("file", "Weights from a file", "a state_dict saved with torch.save(model.state_dict(), path)")),
    "scratch", "where a torchvision model's starting weights come from")
WEIGHT_OPTIONS: tuple[str, ...] = ("pretrained", "weights_path")  # model options that load weights
FREEZE_BACKBONE = FlagSetting("freeze_backbone", "Freeze the backbone", False,
                              "only the new output layer trains; the pretrained layers keep their weights")
BACKBONE_LR_SCALE = NumberSetting("backbone_lr_scale", "Backbone lr scale", 1.0, 0.0, 1.0, step=0.05,
                                  help="fine-tuning: backbone learning rate = learning rate x this")
PRETRAINED_IMAGE_SIZE = 224


def weight_source(options: dict) -> str:
    """Which WEIGHT_SOURCE choice a torchvision model's options describe."""
    if options.get("pretrained"):
        return "pretrained"
    return "file" if options.get("weights_path") else "scratch"


def weight_options(source: str, path: str = "") -> dict:
    """The model options for a WEIGHT_SOURCE choice (a file source without a path means from scratch)."""
    WEIGHT_SOURCE.check(source)
    if source == "pretrained":
        return {"pretrained": True}
    return {"weights_path": path} if source == "file" and path else {}


@dataclass(frozen=True)
class ModelInfo:
    """A model by name. `family`: 'mlp', 'cnn' or 'torchvision' (which options page it has)."""

    name: str
    title: str
    family: str
    options: tuple[NumberSetting | FlagSetting | ChoiceSetting, ...] = ()

    def default_options(self) -> dict:
        """The factory keyword arguments a fresh model gets (the MLP's hidden widths included)."""
        if self.family == "mlp":
            return {"hidden": list(MLP_HIDDEN_DEFAULT), "activation": ACTIVATION.default, "dropout": MLP_DROPOUT.default}
        if self.family == "cnn":
            return {s.key: s.default for s in self.options}
        return {}


_TORCHVISION = (("resnet18", "ResNet-18"), ("resnet50", "ResNet-50"),
                ("mobilenet_v3_small", "MobileNet V3 small"), ("efficientnet_b0", "EfficientNet-B0"))
MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("mlp", "MLP (fully connected)", "mlp", (MLP_HIDDEN_LAYERS, MLP_WIDTH, ACTIVATION, MLP_DROPOUT)),
    ModelInfo("cnn", "Small CNN", "cnn", (CNN_BLOCKS, CNN_CHANNELS, CNN_BATCH_NORM, CNN_DROPOUT)),
    *(ModelInfo(name, title, "torchvision", (WEIGHT_SOURCE, FREEZE_BACKBONE, BACKBONE_LR_SCALE))
      for name, title in _TORCHVISION),
)}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
TORCHVISION_MODELS: tuple[str, ...] = tuple(n for n, m in MODELS.items() if m.family == "torchvision")
DEFAULT_MODEL = "cnn"

# ---- training ----------------------------------------------------------------------------------------------
OPTIMIZER = ChoiceSetting("optimizer", "Optimizer", (
    Choice("sgd", "SGD (with momentum)"), Choice("adam", "Adam"), Choice("adamw", "AdamW")), "adam")
SCHEDULE = ChoiceSetting("schedule", "LR schedule", (
    Choice("none", "Constant"), Choice("cosine", "Cosine to zero"),
    Choice("step", "Step (x gamma every step-size epochs)")), "cosine", "learning-rate schedule over the epochs")
DEVICE = ChoiceSetting("device", "Device", (
    Choice("auto", "Auto", "the GPU when PyTorch sees one, else the CPU"), Choice("cpu", "CPU"),
    Choice("cuda", "CUDA GPU")), "auto", "auto (CUDA when present), cpu, cuda, cuda:N", also=(r"cuda:\d{1,2}", "cuda:N"))

EPOCHS = NumberSetting("epochs", "Epochs", 3, 1, 10_000, integer=True, help="how many passes over the training set")
BATCH_SIZE = NumberSetting("batch_size", "Batch size", 16, 1, 65_536, integer=True, help="images per training step over all processes (the global batch; with N processes each takes 1/N)")
LEARNING_RATE = NumberSetting("lr", "Learning rate", 1e-3, 1e-8, 10.0, help="learning rate, e.g. 0.001 or 1e-3")
MOMENTUM = NumberSetting("momentum", "Momentum", 0.9, 0.0, 1.0, help="SGD's momentum (the other optimizers have none)")
WEIGHT_DECAY = NumberSetting("weight_decay", "Weight decay", 0.0, 0.0, 1.0, help="L2 penalty on the weights, e.g. 0 or 5e-4")
STEP_SIZE = NumberSetting("step_size", "Step size", 5, 1, 10_000, integer=True, unit="epochs",
                          help="step schedule: multiply the lr by gamma every this many epochs")
GAMMA = NumberSetting("gamma", "Gamma", 0.1, 0.0, 1.0, help="step schedule: the lr factor at each step")
SEED = NumberSetting("seed", "Seed", 0, 0, 2**31 - 1, integer=True,
                     help="fixes the data split, shuffling, augmentation and initial weights")
WORKERS = NumberSetting("num_workers", "Loader workers", 0, 0, 64, integer=True,
                        help="DataLoader worker processes that decode and augment images beside the training "
                             "(0: in the training process itself)")
REPORT_INTERVAL = NumberSetting("report_interval_s", "Report interval (s)", 0.1, 0.0, 3600.0,
                                help="how often the trainer reports progress at most")
CHECKPOINT_EVERY_MIN = NumberSetting("checkpoint_every_min", f"Save {LAST} every (min)", 10.0, 0.0, 10_080.0, unit="min",
                                     help=f"also save {LAST} this often mid-epoch (0: only after each epoch)")
EARLY_STOP_PATIENCE = NumberSetting("early_stop_patience", "Early stop patience", 0, 0, 10_000, integer=True,
                                    unit="epochs", zero="Off",
                                    help="stop after this many epochs without a better early-stop metric (0: off)")
EARLY_STOP_METRIC = ChoiceSetting("early_stop_metric", "Early stop on", (
    Choice("val_loss", "Validation loss"), Choice("val_acc", "Validation accuracy")), "val_loss",
    "what early stopping watches")
HEARTBEAT_S = NumberSetting("heartbeat_s", "Heartbeat every (s)", 2.0, 0.05, 3600.0, unit="s",
                            help="write a heartbeat record this often, so a follower can tell a dead run")
COMPUTE_EVERY_S = NumberSetting("compute_every_s", "Compute breakdown every (s)", 2.0, 0.0, 3600.0, unit="s",
                                help="record this often where each step's time goes (waiting for images, computing, "
                                     "waiting for the other processes), CPU, memory and GPU use, and what holds the "
                                     "run back (0: off)")
EVALUATE_AT_END = FlagSetting("evaluate_at_end", "Evaluate at the end", True,
                              "evaluate the validation set into RUN/eval/ when the run ends")
DOSSIER_TOPK = FlagSetting("dossier_topk", "Top images per channel", False,
                           "keep each channel's top validation images at every validation pass (RUN/dossier/)")
LAYER_HEALTH_SUGGESTED = 50
LAYER_HEALTH_EVERY = NumberSetting("layer_health_every", "Layer health every", 0, 0, 1_000_000, integer=True,
                                   step=LAYER_HEALTH_SUGGESTED, unit="steps", zero="Off",
                                   help="sample per-layer norms, update ratios, dead units and histograms every N "
                                        f"steps into RUN/{LAYER_HEALTH} (0: off; 50 is a good value)")
PROBE_IMAGES = PathsSetting("probe_images", "Probe images", 16,
                            "images whose prediction, probabilities, layer statistics and saliency are kept over "
                            f"the run in RUN/{PROBES}/")
EMBED_EVERY = NumberSetting("embed_every", "Map features every", 0, 0, 10_000, integer=True, unit="epochs",
                            zero="Off", help="keep the features of the training and validation images every N "
                                             f"epochs and at the last one in RUN/{FAMILIARITY}/, so the map can "
                                             "replay the run (0: off)")
FAMILIARITY_AT_END = FlagSetting("familiarity_at_end", "Familiarity at the end", False,
                                 f"when the run ends, store the feature banks beside {BEST} and {LAST}, so they "
                                 "say how familiar a new image is (layerscope familiarity does it later)")
FEATURE_PICTURES_MAX_SIZE = 64  # px: above this a whole first layer costs too long after every epoch
FEATURE_PICTURES = FlagSetting("feature_pictures", "Feature pictures each epoch", False,
                               "after every epoch, synthesise a picture of what each first-layer unit responds to "
                               f"(RUN/{FEATUREVIS}/{FEATUREVIS_EPOCHS}/; the Dossier's Channels view replays them "
                               f"with a slider); small models only (images up to {FEATURE_PICTURES_MAX_SIZE} px)")
AMP = FlagSetting("amp", "Mixed precision (GPU)", True,
                  "CUDA only: bf16 autocast where the GPU supports it, else fp16 with a GradScaler")
COMPILE = FlagSetting("compile", "torch.compile", False, "compile the model for speed (GPU; the first steps are slow)")
TENSORBOARD = FlagSetting("tensorboard", "TensorBoard files", False,
                          "also write TensorBoard event files to RUN/tensorboard (needs the tensorboard package)")
NPROC = NumberSetting("nproc", "Processes", 1, 1, 1024, integer=True,
                      help="training processes on this machine (DDP: one per GPU, or gloo on the CPU); "
                           "--batch-size stays the global batch, split between them")


def run_image_size(values: Mapping[str, Any]) -> int:
    """The input size a run of these values trains at: the chosen size, else a pretrained torchvision model's
    own (224), else the dataset's natural size (as core.models.torchvision_models.data_spec_for_model decides)."""
    if values.get("image_size"):
        return int(values["image_size"])
    options = values.get("model_options") or {}
    if values.get("model") in TORCHVISION_MODELS and (options.get("pretrained") or options.get("weights_path")):
        return PRETRAINED_IMAGE_SIZE
    return natural_image_size(values.get("dataset") or DEFAULT_DATASET)


def feature_pictures_unsuited(values: Mapping[str, Any]) -> str | None:
    """Why a run of these values cannot keep first-layer pictures each epoch, None when it can."""
    size = run_image_size(values)
    if size <= FEATURE_PICTURES_MAX_SIZE:
        return None
    return f"only for images up to {FEATURE_PICTURES_MAX_SIZE} px; this run's are {size} px"


# ---- feature visualization and concept tests (layerscope visualize / concepts, the Dossier) ---------------------
VIS_STEPS = NumberSetting("steps", "Optimisation steps", 256, 1, 100_000, integer=True,
                          help="optimisation steps per picture (a first layer stops at 64: its optimum is known)")
VIS_REAL_IMAGES = NumberSetting("real_images", "Real images searched", 512, 0, 1_000_000, integer=True,
                                help="real images searched for each unit's strongest activation, the reference "
                                     "of the activation ratio (0: none)")
CONCEPT_RANDOM_RUNS = NumberSetting("random_runs", "Random runs", 16, 2, 1000, integer=True,
                                    help="random concepts each score is tested against (a t-test over the runs; "
                                         "the random scores spread widely, so fewer than 16 rarely detect a "
                                         "0.3 shift)")
CONCEPT_IMAGES = NumberSetting("concept_images", "Pictures per concept", 50, 5, 10_000, integer=True,
                               help="pictures per concept (and per random set) in each run")
CONCEPT_CLASS_IMAGES = NumberSetting("class_images", "Class images", 100, 1, 100_000, integer=True,
                                     help="images of the class whose sensitivity to each concept is scored")


# ---- the settings of a training run: the one schema -------------------------------------------------------
@dataclass(frozen=True)
class RunOption:
    """One setting of a training run and where each front end offers it. core.training.config.TrainConfig's
    fields, the `layerscope train` options (core/cli/train.py) and the Train tab's form
    (gui/run_settings_model.py, gui/training/settings_fields.py) are all made from TRAIN_OPTIONS.

    place: where the app edits it: a group of the Train tab's form ("training", "insight", "advanced"),
           another part of the app ("model": the Model tab; "inspect": the images pinned in the Inspect tab), or
           "internal" (the app sets it itself; no form field and no CLI option).
    flag:  the `layerscope train` option ("" means --KEY with dashes).
    config: False for how a run is started rather than how it trains (nproc): no TrainConfig field.
    bare:  what the option given without a value means (--layer-health-every alone: 50); None: it takes one.
    when:  (key, value): the setting only matters while that other setting has that value (momentum: SGD).
    suits: for a setting that only some runs can use: given the run's values (dataset, image_size, model,
           model_options), None when it can, else why not (the form disables the field and says so).
    """

    setting: Setting
    place: str
    flag: str = ""
    config: bool = True
    bare: Any = None
    when: tuple[str, str] | None = None
    suits: Callable[[Mapping[str, Any]], str | None] | None = None

    @property
    def key(self) -> str:
        return self.setting.key

    @property
    def cli_flag(self) -> str | None:
        """The `layerscope train` option, None for an internal setting."""
        if self.place == "internal":
            return None
        return self.flag or "--" + self.key.replace("_", "-")


TRAIN_FORM_GROUPS: tuple[str, ...] = ("training", "insight", "advanced")  # the Train form's groups, in order

TRAIN_OPTIONS: tuple[RunOption, ...] = (
    RunOption(EPOCHS, "training"),
    RunOption(BATCH_SIZE, "training"),
    RunOption(LEARNING_RATE, "training"),
    RunOption(OPTIMIZER, "training"),
    RunOption(MOMENTUM, "advanced", when=("optimizer", "sgd")),
    RunOption(WEIGHT_DECAY, "training"),
    RunOption(SCHEDULE, "training"),
    RunOption(STEP_SIZE, "advanced", when=("schedule", "step")),
    RunOption(GAMMA, "advanced", when=("schedule", "step")),
    RunOption(SEED, "training"),
    RunOption(DEVICE, "training"),
    RunOption(NPROC, "training", config=False),
    RunOption(WORKERS, "advanced", flag="--workers"),
    RunOption(BACKBONE_LR_SCALE, "model"),
    RunOption(REPORT_INTERVAL, "internal"),
    RunOption(CHECKPOINT_EVERY_MIN, "advanced"),
    RunOption(EARLY_STOP_PATIENCE, "training"),
    RunOption(EARLY_STOP_METRIC, "training"),
    RunOption(HEARTBEAT_S, "advanced"),
    RunOption(COMPUTE_EVERY_S, "advanced"),
    RunOption(EVALUATE_AT_END, "internal"),
    RunOption(AMP, "advanced"),
    RunOption(COMPILE, "advanced"),
    RunOption(TENSORBOARD, "advanced"),
    RunOption(DOSSIER_TOPK, "insight", flag="--dossier"),
    RunOption(LAYER_HEALTH_EVERY, "insight", bare=LAYER_HEALTH_SUGGESTED),
    RunOption(PROBE_IMAGES, "inspect", flag="--probe"),
    RunOption(EMBED_EVERY, "insight"),
    RunOption(FAMILIARITY_AT_END, "insight", flag="--familiarity"),
    RunOption(FEATURE_PICTURES, "insight", suits=feature_pictures_unsuited),
)

# TrainConfig's fields, in order: every setting of TRAIN_OPTIONS that describes the training itself.
TRAIN_SETTINGS: tuple[Setting, ...] = tuple(o.setting for o in TRAIN_OPTIONS if o.config)

# A DataSpec's values that have limits, and an Augmentation's: what a settings file's data part is checked against.
DATA_SETTINGS: tuple[Setting, ...] = (IMAGE_SIZE, VAL_FRACTION, SEED, SHAPES_TRAIN_COUNT, SHAPES_VAL_COUNT, CACHE_MB)
AUGMENT_SETTINGS: tuple[Setting, ...] = (*(a.setting for a in AUGMENTATIONS.values()), CROP_SCALE_MIN)
