"""Argument helpers shared by the command modules: an argparse option made from a core.catalog setting (its
default, limits, choices and help; a value outside the limits is refused by argparse with the catalogue's
message), and the parsing of the compact values (--option KEY=VALUE, --augment flip,crop=0.6). Torch-free."""
from __future__ import annotations

import argparse
import json

from core import catalog


def parse_value(text: str):
    """JSON when it parses (numbers, lists, true/false), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"layerscope: --option expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        options[key.strip().replace("-", "_")] = parse_value(value)
    return options


def augment_usage() -> str:
    return ", ".join(f"{a.name}[={'MIN_SCALE' if a.name == 'crop' else 'VALUE'}]" if a.name != "flip" else a.name
                     for a in catalog.AUGMENTATIONS.values())


def parse_augment(text: str | None) -> dict:
    """'flip,crop=0.6,rotate=15,jitter=0.2' -> Augmentation fields (a bare word takes its catalogue value)."""
    aug: dict = {}
    for part in filter(None, (text or "").split(",")):
        key, _, value = part.partition("=")
        info = catalog.AUGMENTATIONS.get(key.strip())
        if info is None:
            raise SystemExit(f"layerscope: unknown augmentation {key!r}; use {augment_usage()}")
        aug[info.field] = info.on_value
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            raise SystemExit(f"layerscope: --augment {part!r}: {value!r} is not a number") from None
        aug["crop_scale_min" if key == "crop" else info.field] = number
    return aug


# ---- options made from catalogue settings -----------------------------------------------------------------
def setting_type(setting: catalog.NumberSetting | catalog.ChoiceSetting):
    """An argparse `type`: the text as the setting's kind of value, checked against the catalogue's limits
    (argparse shows the catalogue's message: "argument --heartbeat-s: Heartbeat every (s): 1e-09 is outside ...")."""
    def parse(text: str):
        value = text
        if isinstance(setting, catalog.NumberSetting):
            try:
                value = int(text) if setting.integer else float(text)
            except ValueError:
                kind = "a whole number" if setting.integer else "a number"
                raise argparse.ArgumentTypeError(f"{setting.label}: {text!r} is not {kind}") from None
        try:
            return setting.check(value)
        except catalog.SettingError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = setting.key  # what argparse would name in a message of its own
    return parse


def limits_text(setting: catalog.NumberSetting) -> str:
    def shown(v) -> str:
        return str(int(v)) if setting.integer else f"{v:g}"

    default = "auto" if setting.default is None else shown(setting.default)
    return f"default {default}; {shown(setting.minimum)}..{shown(setting.maximum)}"


def add_setting(parser, flag: str, setting: catalog.Setting, *, bare=None, **kw) -> None:
    """Add the option `flag` for a catalogue setting; its value lands in args.<setting.key>.
    bare: what the option given without a value means (None: it needs one)."""
    kw.setdefault("dest", setting.key)
    text = setting.help or setting.label
    if isinstance(setting, catalog.NumberSetting):
        if bare is not None:
            kw.update(nargs="?", const=bare)
            text += f"; the option alone means {bare}"
        metavar = "N" if setting.integer else setting.unit.upper()
        if metavar:
            kw.setdefault("metavar", metavar)
        parser.add_argument(flag, type=setting_type(setting), default=setting.default,
                            help=f"{text} ({limits_text(setting)})", **kw)
    elif isinstance(setting, catalog.ChoiceSetting):
        names = (*setting.names, setting.also[1]) if setting.also else setting.names  # also: "cuda:N"
        kw.setdefault("metavar", "{" + ",".join(names) + "}")
        parser.add_argument(flag, type=setting_type(setting), default=setting.default,
                            help=f"{text} (default {setting.default})", **kw)
    elif isinstance(setting, catalog.FlagSetting):
        if setting.default:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=True,
                                help=f"{text} (default on)", **kw)
        else:
            parser.add_argument(flag, action="store_true", help=text, **kw)
    elif isinstance(setting, catalog.PathsSetting):
        parser.add_argument(flag, action="append", default=[], metavar="FILE",
                            help=f"{text} (repeat for several, at most {setting.maximum})", **kw)
    else:
        raise TypeError(f"no option for {setting!r}")
