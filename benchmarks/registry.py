"""The benchmark registry: one YAML file per benchmark in ``benchmarks/definitions/``, plus the user's own from a
folder (``--include-path DIR``) or a path to one YAML in the benchmark list. A YAML file with ``group:`` names a suite
(lm-evaluation-harness style): its name in a benchmark list stands for its members. ``prime-eval ls`` lists them and
a misspelt name gets a suggestion. The format is documented in ``docs/benchmarks.md``."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from prime_common.errors import UserError

DEFINITIONS = Path(__file__).with_name("definitions")
VERIFIERS = ("math", "code")
PROMPTS = ("math", "code")
CODE_FORMATS = ("humaneval", "mbpp", "leetcode", "livecodebench")  # the row shapes code tests come in
# How a question becomes a prompt (rendered by prime_eval.prompts): PRIME's system prompt, with its
# literal-backslash-n quirk or real newlines, the model's chat template, or plain text.
PROMPT_MODES = ("prime", "prime_newlines", "chat", "plain")


class UnknownBenchmark(UserError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class DataSource:
    """Where the rows come from: a Hugging Face dataset (with revision) and/or a local file under the data folder
    (``$PRIME_BENCHMARK_DATA``, default ``../shared/benchmarks``), or a generator function (``"module:function"``,
    called with ``split``, ``size``, ``seed`` and ``params`` as keywords; ``arith``). ``filter`` keeps rows whose
    ``field`` contains one of ``contains``."""

    hf_path: str | None = None
    hf_config: str | None = None
    split: str = "test"
    revision: str | None = None
    local: str | None = None
    filter_field: str | None = None
    filter_contains: tuple[str, ...] = ()
    generator: str | None = None
    size: int | None = None  # generated rows
    seed: int = 0  # of the generator
    params: dict[str, Any] = field(default_factory=dict)  # the generator's own keywords (arith: its difficulty)


@dataclass(frozen=True)
class BenchmarkDef:
    name: str
    description: str
    verifier: str
    data: DataSource
    id_field: str
    question_field: str
    gold: str | None  # a field expression: "answer", "first(final_answer)", "boxed(solution)", "lstrip_zeros(answer)"
    prompt: str
    max_tokens: int
    code_format: str | None = None  # humaneval | mbpp | leetcode | livecodebench
    solution: str | None = None  # field expression of a worked reference solution, where the data has one
    # The prompt mode training (SFT, RL rollouts) uses for this benchmark; evaluation uses the run's --prompt-mode,
    # so a benchmark meant for training picks the run default (chat) to keep both on the same prompt text.
    prompt_mode: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = ""


@dataclass(frozen=True)
class BenchmarkGroup:
    name: str
    description: str
    benchmarks: tuple[str, ...]  # members, in order: packaged benchmark names


def _parse(path: Path) -> BenchmarkDef:
    raw = yaml.safe_load(path.read_text())
    where = f"{path.name}"
    try:
        data = raw["data"]
        hf = data.get("hf") or {}
        gen = data.get("generator") or {}
        flt = data.get("filter") or {}
        fields = raw["fields"]
        definition = BenchmarkDef(
            name=raw["name"],
            description=raw["description"],
            verifier=raw["verifier"],
            data=DataSource(
                hf_path=hf.get("path"),
                hf_config=hf.get("config"),
                split=gen.get("split") or hf.get("split", "test"),
                revision=hf.get("revision"),
                local=data.get("local"),
                filter_field=flt.get("field"),
                filter_contains=tuple(flt.get("contains", ())),
                generator=gen.get("function"),
                size=gen.get("size"),
                seed=int(gen.get("seed", 0)),
                params=dict(gen.get("params") or {}),
            ),
            id_field=fields["id"],
            question_field=fields["question"],
            gold=fields.get("gold"),
            prompt=raw["prompt"],
            max_tokens=int(raw.get("decoding", {}).get("max_tokens", 4096)),
            code_format=raw.get("code_format"),
            solution=fields.get("solution"),
            prompt_mode=raw.get("prompt_mode"),
            extra=raw.get("extra", {}),
            path=str(path),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{where}: missing or malformed key {exc}") from exc
    if definition.name != path.stem:
        raise ValueError(f"{where}: name {definition.name!r} must match the file name")
    if definition.verifier not in VERIFIERS or definition.prompt not in PROMPTS:
        raise ValueError(f"{where}: verifier must be one of {VERIFIERS} and prompt one of {PROMPTS}")
    if definition.verifier == "math" and not definition.gold:
        raise ValueError(f"{where}: a math benchmark needs fields.gold")
    if definition.verifier == "code" and definition.code_format not in CODE_FORMATS:
        raise ValueError(f"{where}: a code benchmark needs code_format, one of {CODE_FORMATS}")
    if not (definition.data.hf_path or definition.data.local or definition.data.generator):
        raise ValueError(f"{where}: data needs hf, local or generator")
    if definition.data.generator and (":" not in definition.data.generator or not definition.data.size):
        raise ValueError(f"{where}: data.generator needs function ('module:function') and size")
    if definition.prompt_mode is not None and definition.prompt_mode not in PROMPT_MODES:
        raise ValueError(f"{where}: prompt_mode must be one of {PROMPT_MODES}")
    return definition


@cache
def _packaged_files() -> dict[Path, Any]:
    return {p: yaml.safe_load(p.read_text()) for p in sorted(DEFINITIONS.glob("*.yaml"))}


@cache
def _packaged() -> dict[str, BenchmarkDef]:
    return {d.name: d for d in (_parse(p) for p, raw in _packaged_files().items() if "group" not in raw)}


@cache
def groups() -> dict[str, BenchmarkGroup]:
    """The packaged suites (``group:`` files), checked at first use: a misspelt member must not make a silently
    shorter suite."""
    found = {}
    for path, raw in _packaged_files().items():
        if "group" in raw:
            members = tuple(raw.get("benchmarks") or ())
            if raw["group"] != path.stem or path.stem in _packaged() or not members or set(members) - set(_packaged()):
                raise ValueError(
                    f"{path.name}: a group is named as its file, not as a benchmark, and lists benchmarks"
                )
            found[path.stem] = BenchmarkGroup(path.stem, str(raw.get("description", "")), members)
    return found


def is_packaged(d: BenchmarkDef) -> bool:
    return Path(d.path).parent == DEFINITIONS


def is_definition_file(text: str) -> bool:
    return text.endswith((".yaml", ".yml"))


def _read_user(path: Path) -> BenchmarkDef:
    if not path.is_file():
        raise UnknownBenchmark(f"benchmark definition {str(path)!r}: no such file")
    try:
        return _parse(path)
    except (ValueError, OSError, yaml.YAMLError) as exc:
        raise UnknownBenchmark(f"benchmark definition {path}: {exc}") from None


def included(include_path: str | Path | None) -> dict[str, BenchmarkDef]:
    """The user's definitions: every ``*.yaml``/``*.yml`` of a folder (lm-eval's ``--include_path``), or one file."""
    if include_path is None:
        return {}
    root = Path(include_path).expanduser()
    if root.is_dir():
        files = sorted(p.resolve() for p in root.iterdir() if p.is_file() and is_definition_file(p.name))
        if not files:
            raise UnknownBenchmark(f"--include-path {root}: no benchmark definitions (*.yaml) in it")
    elif root.is_file():
        files = [root.resolve()]
    else:
        raise UnknownBenchmark(f"--include-path {root}: no such folder or file")
    return _merge_user({}, [_read_user(p) for p in files])


def _merge_user(known: dict[str, BenchmarkDef], definitions: list[BenchmarkDef]) -> dict[str, BenchmarkDef]:
    """Add the user's definitions; a name that is already taken is an error naming both files (a silent
    override would score another benchmark under a familiar name)."""
    out = dict(known)
    for d in definitions:
        taken = out.get(d.name) or _packaged().get(d.name)
        if taken is not None and taken.path != d.path:
            raise UnknownBenchmark(
                f"benchmark {d.name!r} of {d.path} is already defined by {taken.path}; rename one of them"
            )
        out[d.name] = d
    return out


def registry(include_path: str | Path | None = None) -> dict[str, BenchmarkDef]:
    """The packaged benchmarks, plus the user's from ``include_path`` (a folder of YAML files, or one file)."""
    return {**_packaged(), **included(include_path)}


def get_benchmark(name: str, include_path: str | Path | None = None) -> BenchmarkDef:
    """A benchmark by name, or the definition in the YAML file ``name`` names."""
    if is_definition_file(name):
        return _merge_user({}, [_read_user(Path(name).expanduser().resolve())])[Path(name).stem]
    known = registry(include_path)
    if name in known:
        return known[name]
    if name in groups():
        raise UnknownBenchmark(f"{name!r} is a group of benchmarks ({', '.join(groups()[name].benchmarks)}), not one")
    close = difflib.get_close_matches(name, [*known, *groups()], n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; known: {', '.join(known)}"
    extra = "" if include_path else " (your own: --include-path DIR, or a path to its .yaml; docs/benchmarks.md)"
    raise UnknownBenchmark(f"unknown benchmark {name!r}{hint}{extra}")


def _members(name: str) -> tuple[str, ...]:
    group = groups().get(name)
    return group.benchmarks if group else (name,)


def parse_benchmark_list(spec: str, include_path: str | Path | None = None) -> list[BenchmarkDef]:
    """``"aime24,math500,mine/toy.yaml"`` -> definitions, in order, without duplicates; a group's name stands for
    its members (``"paper_math,leetcode"``); every unknown name is reported."""
    names = [m for n in spec.split(",") if n.strip() for m in _members(n.strip())]
    if not names:
        raise UnknownBenchmark("no benchmark named")
    errors, found = [], []
    for n in dict.fromkeys(names):
        try:
            found.append(get_benchmark(n, include_path))
        except UnknownBenchmark as exc:
            errors.append(str(exc))
    by_name: dict[str, str] = {}
    for d in found:
        if by_name.setdefault(d.name, d.path) != d.path:
            errors.append(f"two benchmarks named {d.name!r}: {by_name[d.name]} and {d.path}")
    if errors:
        raise UnknownBenchmark("; ".join(errors))
    return found
