"""The one settings loader of every command: a YAML file and command-line values built into a typed dataclass.

Each value is coerced to the type its field declares, whichever way YAML or a shell spelled it (``"0.6"``,
``1e-4``, ``"10"``, ``"true"``); NaN and infinities are refused (they pass every range check after this one). An
unknown key is an error with a did-you-mean, never ignored: a misspelt ``lr`` would otherwise run with the default
and look like a result. Every fault is a ``ConfigError``: one line naming the setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from .errors import UserError
from .registry import closest

T = TypeVar("T")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


class ConfigError(UserError, ValueError):
    """A bad setting, settings file or override: a one-line message for the user."""


def setting(default: Any = dataclasses.MISSING, help: str = "") -> Any:
    """A dataclass field with its help text (TRL's ``field(metadata={"help": ...})``); a list or dict default is
    copied for each instance. The help is what ``--help`` and the settings listings show."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def suggest(key: str, known: list[str]) -> str:
    """What a message about an unknown ``key`` ends with: the closest known name, else all of them."""
    close = closest(key, known)
    return f" (did you mean {close!r}?)" if close else f"; known: {', '.join(known)}"


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` as the type ``hint`` declares, or a ``ConfigError`` naming ``where``."""
    origin, args = get_origin(hint), get_args(hint)
    if value is None:
        if type(None) in args:
            return None
        raise ConfigError(f"{where} may not be null")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if type(None) in args:  # Optional[X]
        (hint,) = (a for a in args if a is not type(None))
        return coerce(value, hint, where)
    if origin is list:  # a YAML list, or text with commas (--eval.benchmarks a,b)
        items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
        return [coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(items)] if args else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return value
    if hint is bool:
        value = _BOOLS.get(value.strip().lower(), value) if isinstance(value, str) else value
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint in (int, float):
        return _number(value, hint, where)
    if hint is str:
        if isinstance(value, (dict, list, bool)):
            raise ConfigError(f"{where} must be text, got {value!r}")
        return str(value)
    return value


def _number(value: Any, kind: type, where: str) -> int | float:
    """YAML 1.1 reads ``1e-4`` (no dot) and anything quoted as text; Python's ``int`` and ``float`` read every such
    spelling (``int`` first, so a long integer keeps its digits)."""
    number = value
    if isinstance(value, str):
        number = _parse(int, value.strip())
        number = _parse(float, value.strip()) if number is None else number
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ConfigError(f"{where} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    approx = _parse(float, number)  # None: an integer beyond the float range
    if (approx is None and kind is float) or (approx is not None and not math.isfinite(approx)):
        raise ConfigError(f"{where} must be finite, got {value!r}")
    if kind is int and not isinstance(number, int) and not number.is_integer():
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    return int(number) if kind is int else approx


def _parse(cast: type, value: Any) -> Any:
    try:
        return cast(value)
    except (ValueError, OverflowError):
        return None


def build(cls: type[T], raw: Any, where: str = "") -> T:
    """``cls`` (a dataclass, nested ones as sections) from the mapping ``raw``; fields ``raw`` lacks keep their
    defaults, and a field without a default must be given."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'the settings'} must be a mapping, got {raw!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise ConfigError(f"unknown setting {path!r}{suggest(str(key), list(fields))}")
        hint = hints[key]
        section = dataclasses.is_dataclass(hint)
        kwargs[key] = build(hint, {} if value is None else value, path) if section else coerce(value, hint, path)
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where + '.' if where else ''}{name} is required")
    return cls(**kwargs)


def load(cls: type[T], path: Path | None, given: dict[str, Any], base: dict[str, Any] | None = None) -> T:
    """``cls`` from ``base`` (a preset), then the settings file at ``path``, then ``given`` (the command line)."""
    return build(cls, merge(merge(base or {}, read_settings(path) if path is not None else {}), given))


def given(source: Any, cls: type) -> dict[str, Any]:
    """The values of ``cls``'s fields that an argparse namespace (or any object) holds, ``None`` being not given."""
    values = {f.name: getattr(source, f.name, None) for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if v is not None}


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """A ``--name-with-dashes`` flag per field of ``cls``, its help from the field. Values stay text (``None`` when
    not given) for ``build`` to coerce, so a flag and a settings file are read by the same rules."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        hint = next((a for a in get_args(hint) if a is not type(None)), hint) if type(None) in get_args(hint) else hint
        choices = get_args(hint) if get_origin(hint) is Literal else None
        default = "" if f.default in (dataclasses.MISSING, None) else f" (default {f.default})"
        flag = "--" + f.name.replace("_", "-")
        options = {"help": f.metadata.get("help", "") + default, "default": None}
        if hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        else:
            parser.add_argument(flag, choices=choices, **options)


def settings_help(cls: type, prefix: str = "") -> list[str]:
    """``section.key = default  # help`` for every field of ``cls`` and its sections, for a ``--help`` listing."""
    lines = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default_factory):  # a section
            lines += settings_help(f.default_factory, f"{prefix}{f.name}.")
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        help_text = f.metadata.get("help")
        lines.append(f"  {prefix}{f.name} = {default!r}" + (f"  # {help_text}" if help_text else ""))
    return lines


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``--section.key value`` / ``--section.key=value`` pairs as a nested dict; values are read as YAML scalars
    (``--prm.enabled false``, ``--eval.benchmarks arith,math500``) and dashes in names as underscores."""
    tree: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}; settings are given as --section.key value")
        key, eq, text = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise ConfigError(f"--{key} needs a value")
            text = args[i + 1]
            i += 1
        i += 1
        *sections, leaf = key.replace("-", "_").split(".")
        node = tree
        for part in sections:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--{key}: {part!r} is a value, not a section")
        node[leaf] = _scalar(text)
    return tree


def _scalar(text: str) -> Any:
    """A command-line value as YAML reads it (``false``, ``8``, ``null``), or as the text it is where it is no YAML
    (``[draft``): any text is a valid value for a text setting."""
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, section by section."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_settings(path: Path, what: str = "settings file") -> dict[str, Any]:
    """A YAML file's settings; any fault in the file is one line naming it (and the line and column)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        before = exc.object[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - before.rfind(b"\n")
        raise ConfigError(f"{path}:{line}:{column}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a {what} is a mapping of settings (key: value), got {type(raw).__name__}")
    return raw


def changes(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """Every leaf setting that differs, as ``section.key: old -> new``."""
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        path = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            out += changes(old, new, path + ".")
        elif old != new:
            out.append(f"{path}: {old!r} -> {new!r}")
    return out
