"""The move log of a dataset (DATASET/.layerscope-moves.jsonl): one line per Apply, each signed by the user
who made it, so Undo Apply reverses only moves this app recorded for this user.

A shared dataset may carry a crafted log ("move ~/.ssh/id_rsa into the dataset"). Paths in the log are
relative to the dataset and confined to it when read (core.io.confine), and every line carries an HMAC-SHA256
of its content under a secret key kept in the user's config folder (created 0600 on first use): a line
written or edited by anyone else does not verify and is refused with its line number.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import LayerscopeError
from core.io.atomic import append_lines, write_text_atomic
from core.io.confine import ConfinementError, relative_parts
from core.io.small_files import CAPS, ListOf, Obj, OneOf, SmallFileError, parse_json, read_bytes

LOG_NAME = ".layerscope-moves.jsonl"
KEY_NAME = "move-log.key"
ACTIONS = ("relabel", "exclude")
MOVE = Obj(required={"from": str, "to": str, "action": OneOf(ACTIONS)})
LINE = Obj(required={"time": float, "moves": ListOf(MOVE, max_len=10_000_000), "mac": str})


class MoveLogError(LayerscopeError, ValueError):
    """The log or the user's key cannot be used; the message names the file."""


CONFIG_ENV = "LAYERSCOPE_CONFIG_DIR"  # where the key lives instead of the user config folder (tests, portable use)


def key_path() -> Path:
    from platformdirs import user_config_path

    folder = os.environ.get(CONFIG_ENV)
    return (Path(folder) if folder else user_config_path("layerscope")) / KEY_NAME


def user_key(create: bool = True) -> bytes:
    """The user's secret key: 32 random bytes in the config folder, made with mode 0600 on first use."""
    path = key_path()
    try:
        return bytes.fromhex(read_bytes(path, max_bytes=1024, no_link=True).decode("ascii").strip())
    except SmallFileError as exc:
        if exc.kind != "missing" or not create:
            raise MoveLogError(f"{path}: the key that signs dataset move logs cannot be read ({exc.reason})") from None
    except (ValueError, UnicodeDecodeError):
        raise MoveLogError(f"{path}: the key that signs dataset move logs is damaged; delete it (undo of earlier "
                           "Applies then needs doing by hand)") from None
    return _create_key(path)


def _create_key(path: Path) -> bytes:
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return user_key(create=False)  # another process made it first
    except OSError as exc:
        raise MoveLogError(f"{path}: cannot keep the key that signs dataset move logs "
                           f"({exc.strerror or exc}); nothing was moved") from None
    try:
        os.write(fd, key.hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def _mac(key: bytes, stamp: float, moves: list[dict]) -> str:
    body = json.dumps({"time": stamp, "moves": moves}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_line(moves: list[dict], key: bytes, stamp: float | None = None) -> str:
    """One log line for an Apply: `moves` are {"from", "to", "action"} with paths relative to the dataset."""
    stamp = time.time() if stamp is None else stamp
    return json.dumps({"time": stamp, "moves": moves, "mac": _mac(key, stamp, moves)})


def check_writable(root: Path) -> None:
    """Refuse up front (MoveLogError) when the log could not be appended to: a link or anything but a plain
    file planted under its name. Checked before any file moves, so no move goes unlogged."""
    path = root / LOG_NAME
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise MoveLogError(f"{path}: {what}; Layerscope does not write through it, so nothing was moved. "
                           "Remove it and try again")


def record(root: Path, moves: list[dict]) -> None:
    """Append one signed line for an Apply (never through a link: core.io.atomic)."""
    append_lines(root / LOG_NAME, [signed_line(moves, user_key())], inside=root)


@dataclass
class Batch:
    line: int  # 1-based line number in the log
    moves: list[dict]  # each with "from" and "to" as confined path parts


@dataclass
class LogContents:
    lines: list[str]  # every line of the file as it is (kept when a batch is removed)
    batches: list[Batch]  # the lines that verify, oldest first
    refused: list[str]  # "line N: why", for every line that does not


def read_log(root: Path) -> LogContents:
    """The log's lines; each verified (schema, HMAC under the user's key, paths confined) or refused by line."""
    path = root / LOG_NAME
    try:
        data = read_bytes(path, max_bytes=CAPS["move_log"], no_link=True)
    except SmallFileError as exc:
        if exc.kind == "missing":
            return LogContents([], [], [])
        raise MoveLogError(str(exc)) from None
    key = user_key()
    contents = LogContents(data.decode("utf-8", "replace").splitlines(), [], [])
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = parse_json(line, path, schema=LINE)
        except SmallFileError as exc:
            contents.refused.append(f"{path} line {number}: {exc.reason}")
            continue
        problem = _verify(value, key, path)
        if problem:
            contents.refused.append(f"{path} line {number}: {problem}")
        else:
            contents.batches.append(Batch(number, [_confined(m, path) for m in value["moves"]]))
    return contents


def _verify(value: dict, key: bytes, path: Path) -> str | None:
    if not hmac.compare_digest(value["mac"], _mac(key, value["time"], value["moves"])):
        return ("not recorded by Layerscope for this user (its checksum does not match); its moves are not "
                "undone - move those files back by hand if they need it")
    try:
        for move in value["moves"]:
            relative_parts(move["from"], source=path)
            relative_parts(move["to"], source=path)
    except ConfinementError as exc:
        return exc.reason + f" ({exc.entry!r})"
    return None


def _confined(move: dict, path: Path) -> dict:
    return {**move, "from": relative_parts(move["from"], source=path), "to": relative_parts(move["to"], source=path)}


def drop_line(root: Path, contents: LogContents, line: int) -> None:
    """Rewrite the log without one line (an undone batch); other lines stay as they are."""
    kept = [text for n, text in enumerate(contents.lines, 1) if n != line and text.strip()]
    write_text_atomic(root / LOG_NAME, "".join(t + "\n" for t in kept), inside=root)
