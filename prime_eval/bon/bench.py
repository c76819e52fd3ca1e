"""The Best-of-N bench: read candidates, label them with the shared verifier, score them, write the metrics.

The candidates file is JSONL (``.jsonl.gz`` too), one candidate per row: an id (``id``, ``problem_id`` or
``task_id``, the first present; string or integer), ``gold`` (string or
finite number), ``response``, an optional ``benchmark`` (groups results; default ``"default"``) and any other
fields (a reward model may read them). A problem is ``(benchmark, problem_id)``; its rows form its pool and must
share one gold. Ids that differ only in type (``1`` and ``"1"``) are refused with both line numbers: whether they
name one problem or two is a guess the bench does not make.

Outputs in ``DIR``: ``bon.json`` (metrics per benchmark and overall, reward model and verifier identity,
settings), ``candidates.jsonl`` (every input row plus ``label``, ``correct``, ``status``, ``answer`` and the
reward model's ``score``; input fields of those names are kept, renamed ``input_<name>``, and bon.json lists the
renames) and ``bon.png``. The id, gold and response columns can be named (``Fields``; ``--id-field`` etc.).
Nothing is resumed: labelling is the slow part and ``prime-eval score`` already caches it.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from prime_common.jsonl import json_document, json_line, prepare_output_dir, write_atomic

from ..fields import DEFAULT_FIELDS, Fields
from ..metrics import default_ks
from ..output_lock import hold_output
from ..scoring import InputError, read_rows
from ..validate import check_gold
from ..verify import DEFAULT_TIMEOUT_S, Verifier, get_verifier, verify_batch
from .metrics import DEFAULT_DRAWS, DEFAULT_VOTE_WEIGHT, VOTE_WEIGHTS, Scored, problem_metrics, summarize
from .reward_models import MAX_REPORTED_ERRORS, Candidate, RewardModel

DEFAULT_BENCHMARK = "default"
OVERALL = "overall"
BENCH_FIELDS = ("label", "correct", "status", "answer", "score")  # what candidates.jsonl adds to each row


class CandidatesError(InputError):
    """A candidates file that cannot be benched; the message names every bad line (up to a limit)."""


def _raise_if_any(errors: list[str]) -> None:
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
        raise CandidatesError("\n".join(errors[:MAX_REPORTED_ERRORS]) + more)


def _candidate(row: dict[str, Any], where: str, fields: Fields) -> Candidate:
    """One validated row; a bad one raises ValueError with the message for the user."""
    id_name = fields.id_name(row)
    missing = [k for k in (fields.gold, fields.response) if row.get(k) is None]
    missing = missing if id_name is not None and row[id_name] is not None else [fields.id_wanted(), *missing]
    if missing:
        raise ValueError(
            f"{where}: missing or null field {', '.join(map(repr, missing))} (fields: {', '.join(sorted(row))})"
        )
    assert id_name is not None
    check_gold(row[fields.gold], where, fields.gold)
    pid, benchmark, response = row[id_name], row.get("benchmark", DEFAULT_BENCHMARK), row[fields.response]
    if isinstance(pid, bool) or not isinstance(pid, (str, int)):
        raise ValueError(f"{where}: {id_name} must be a string or an integer, got {pid!r}")
    if not isinstance(response, str):
        raise ValueError(f"{where}: {fields.response} must be a string, got {type(response).__name__}")
    if not isinstance(benchmark, str) or not benchmark:
        raise ValueError(f"{where}: benchmark must be a non-empty string, got {benchmark!r}")
    return Candidate(where, benchmark, pid, row[fields.gold], response, row)


def read_candidates(path: Path, fields: Fields = DEFAULT_FIELDS) -> list[Candidate]:
    """Every candidate of ``path``, validated; all bad lines are reported together with their line numbers."""
    candidates, errors = [], []
    for lineno, row in read_rows(path):  # raises InputError for unreadable files and bad JSON, with lines
        try:
            candidates.append(_candidate(row, f"{path}:{lineno}", fields))
        except ValueError as exc:
            errors.append(str(exc))
    first: dict[tuple[str, str], Candidate] = {}
    for c in candidates:
        # Keyed by the id's text: 1 and "1" would otherwise be two problems, each with half the pool.
        seen = first.setdefault((c.benchmark, str(c.problem_id)), c)
        if type(seen.problem_id) is not type(c.problem_id):
            errors.append(
                f"{c.where}: problem_id {c.problem_id!r} and {seen.problem_id!r} at {seen.where} differ only in "
                "type: write every id of a problem the same way"
            )
        elif seen.gold != c.gold:
            errors.append(f"{c.where}: gold {c.gold!r} differs from {seen.gold!r} of the same problem at {seen.where}")
    _raise_if_any(errors)
    if not candidates:
        raise CandidatesError(f"{path}: no candidates")
    return candidates


def label(
    candidates: list[Candidate], verifier: Verifier, *, workers=None, timeout_s=DEFAULT_TIMEOUT_S, progress=True
) -> list[Candidate]:
    """The candidates with their verifier verdicts, checked in kill-bounded worker processes."""
    verdicts = verify_batch(
        verifier,
        [c.response for c in candidates],
        [c.gold for c in candidates],
        workers=workers,
        timeout_s=timeout_s,
        progress=progress,
    )
    return [replace(c, verdict=v) for c, v in zip(candidates, verdicts)]


def _scores(rm: RewardModel, candidates: list[Candidate]) -> list[float]:
    scores = rm.score(candidates)
    if len(scores) != len(candidates):
        raise ValueError(f"reward model {rm.name!r} returned {len(scores)} scores for {len(candidates)} candidates")
    bad = [c.where for c, s in zip(candidates, scores) if not math.isfinite(s)]
    if bad:
        raise ValueError(f"reward model {rm.name!r} returned non-finite scores for {', '.join(bad[:5])}")
    return [float(s) for s in scores]


def _check_ns(ns: Sequence[int] | None, sizes: Sequence[int]) -> list[int]:
    if ns is None:  # every power of two that every pool can form
        return default_ks(min(sizes))
    if not ns or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in ns):
        raise InputError(f"N must be positive integers, got {list(ns)}")
    if max(ns) > max(sizes):
        raise InputError(f"N={max(ns)} exceeds every problem's pool (the largest has {max(sizes)} candidates)")
    return sorted(set(ns))


def renamed_inputs(cands: list[Candidate]) -> dict[str, str]:
    """Input columns named like the bench's own (``label``, ``correct``...), each moved to ``input_<name>`` (more
    ``input_`` while that is taken too): the verifier's values never overwrite the input's."""
    present = {k for c in cands for k in c.row}
    out = {}
    for name in (k for k in BENCH_FIELDS if k in present):
        new = f"input_{name}"
        while new in present or new in out.values():
            new = f"input_{new}"
        out[name] = new
    return out


def _output_row(c: Candidate, score: float, renames: dict[str, str]) -> dict[str, Any]:
    v = c.verdict
    assert v is not None
    fields = {"label": v.score, "correct": v.correct, "status": v.status.value, "answer": v.answer, "score": score}
    return {**{renames.get(k, k): value for k, value in c.row.items()}, **fields}


def _metrics(
    pools: dict[str, dict[str | int, list[int]]],
    cands: list[Candidate],
    scores: list[float],
    ns: list[int],
    vote_weight: str,
    mc_draws: int,
    seed: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per benchmark (each N over the problems whose pool can form it) and overall. Overall is one population at
    every N, the problems whose pool can form the largest N, so that its curve compares like with like (pools of
    1-2 candidates averaged in at small N only would make pass@8 fall below pass@4); every problem weighs the
    same, whatever its benchmark (not the paper's unweighted benchmark average). None when no pool is that large."""
    per_benchmark: dict[str, Any] = {}
    all_values, all_sizes = [], []
    for benchmark in sorted(pools):
        values, sizes = [], []
        for pid, idx in pools[benchmark].items():
            pool = [Scored(scores[i], cands[i].verdict.correct, cands[i].verdict.answer) for i in idx]  # type: ignore[union-attr]
            # The seed names the problem, so its draws do not depend on the rest of the file.
            key = f"{seed}/{json.dumps([benchmark, pid])}"
            values.append(problem_metrics(pool, ns, vote_weight=vote_weight, draws=mc_draws, seed=key))
            sizes.append(len(idx))
        per_benchmark[benchmark] = summarize(values, sizes, ns).to_dict()
        all_values += values
        all_sizes += sizes
    kept = [i for i, size in enumerate(all_sizes) if size >= max(ns)]
    if not kept:
        return per_benchmark, None
    overall = summarize([all_values[i] for i in kept], [all_sizes[i] for i in kept], ns).to_dict()
    overall["population"] = {
        "rule": f"problems whose pool has at least {max(ns)} candidates (the largest N), at every N",
        "problems": len(kept),
        "left_out": len(all_sizes) - len(kept),
    }
    return per_benchmark, overall


def run_bon(
    candidates: Path,
    output: Path,
    ns: Sequence[int] | None,
    rm: RewardModel,
    *,
    workers: int | None = None,
    progress: bool = True,
    verifier: Verifier | None = None,
    vote_weight: str = DEFAULT_VOTE_WEIGHT,
    mc_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    generation: dict[str, Any] | None = None,
    fields: Fields = DEFAULT_FIELDS,
) -> dict[str, Any]:
    """Bench ``rm`` on the candidates file; write ``output``/{bon.json, candidates.jsonl, bon.png}.

    ``ns=None`` takes the powers of two up to the smallest pool. ``generation`` (what drew the pools, from
    ``--generate``) is recorded as is. Returns the ``bon.json`` content.
    """
    if vote_weight not in VOTE_WEIGHTS:
        raise InputError(f"unknown vote weight {vote_weight!r}; choose from {', '.join(VOTE_WEIGHTS)}")
    if mc_draws < 2:
        raise InputError(f"Monte Carlo draws must be at least 2, got {mc_draws}")
    verifier = get_verifier("math") if verifier is None else verifier
    cands = read_candidates(Path(candidates), fields)
    pools: dict[str, dict[str | int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, c in enumerate(cands):
        pools[c.benchmark][c.problem_id].append(i)
    ns = _check_ns(ns, [len(p) for b in pools.values() for p in b.values()])

    output = Path(output)
    with hold_output(output):  # two benches of one folder would overwrite each other's files
        # Score first when the reward model does not read labels: a bad scores field then fails in seconds, not
        # after the verifier has run over the whole file.
        if getattr(rm, "needs_labels", False):
            cands = label(cands, verifier, workers=workers, timeout_s=timeout_s, progress=progress)
            scores = _scores(rm, cands)
        else:
            scores = _scores(rm, cands)
            cands = label(cands, verifier, workers=workers, timeout_s=timeout_s, progress=progress)

        per_benchmark, overall = _metrics(pools, cands, scores, ns, vote_weight, mc_draws, seed)
        result = {
            "candidates": str(candidates),
            "ns": ns,
            "benchmarks": per_benchmark,
            OVERALL: overall,
            "reward_model": rm.describe(),
            "verifier": verifier.describe(),
            "settings": {
                "tie_breaking": "uniform, in expectation",
                "vote_weight": vote_weight,
                "mc_draws": mc_draws,
                "seed": seed,
                "timeout_s": timeout_s,
            },
            "statuses": dict(Counter(c.verdict.status.value for c in cands)),  # type: ignore[union-attr]
        }
        if generation is not None:
            result["generation"] = generation
        renames = renamed_inputs(cands)
        result["renamed_input_fields"] = renames
        rows = "".join(json_line(_output_row(c, s, renames)) for c, s in zip(cands, scores))
        prepare_output_dir(output)
        write_atomic(output / "candidates.jsonl", rows)
        write_atomic(output / "bon.json", json_document(result))
        from .plot import plot_bon

        plot_bon(result, output / "bon.png")
        return result
