"""Step-level evaluation of a process reward model, ProcessBench-style (``prime-eval step-eval``).

Input: JSONL files (``.jsonl.gz`` too) with one solution per row: ``id``, ``problem``, ``steps`` (non-empty list
of strings) and ``label``, the index of the first wrong step or -1 when every step is right (ProcessBench's
format). Blank steps (``"  "``) are dropped and the label moved to the same step; a row whose labelled step is
blank, or that has no other step, is left out and reported in ``step_eval.json`` (``skipped``). A row's subset is
``--subset`` if given, else its ``subset`` field, else its ``source`` field, else its file's stem (ProcessBench
ships one split per subset: gsm8k, math, olympiadbench, omnimath).

The step scores come from the implicit PRM (``--implicit-prm``), from the file (``--step-scores-field NAME``, one
number per step, computed by any scorer), or from Python: any object with ``step_rewards`` (``StepScorer``).

The PRM gives each step a score; its predicted first error is the first step whose score is *strictly* below the
threshold (a score equal to the threshold passes), or -1 if none is. Per subset: accuracy on the erroneous samples
(predicted index == label), accuracy on the correct ones (predicted -1) and their harmonic mean, F1; plus the same
pooled over all samples, and the mean F1 over subsets (the average ProcessBench reports).

The threshold is given, or calibrated on a separate split: the candidate maximising F1 on it among the midpoints
between consecutive distinct observed step scores (plus one point below the lowest and one above the highest);
ties go to the lowest such threshold, the one that flags fewest steps.
"""

from __future__ import annotations

import argparse
import bisect
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from prime_common.jsonl import json_document, json_line, write_atomic

from ..console import pct
from ..scoring import InputError, read_rows

MAX_REPORTED_ERRORS = 10
OVERALL = "overall"


class StepScorer(Protocol):
    """Anything that scores steps, e.g. ``prime_eval.rewards.implicit_prm.ImplicitPRM``. ``describe()`` is
    optional; when present its dict is written to ``step_eval.json``."""

    def step_rewards(self, questions: list[str], step_lists: list[list[str]]) -> list[list[float]]: ...


@dataclass(frozen=True)
class StepSample:
    """One solution; ``where`` is ``"path:line"`` for messages."""

    where: str
    subset: str
    id: str | int
    problem: str
    steps: tuple[str, ...]
    label: int
    given_scores: tuple[float, ...] | None = None  # from --step-scores-field, one per (kept) step


class SkippedRow(ValueError):
    """A row that cannot be evaluated but does not make the file bad (its labelled step is blank)."""


@dataclass(frozen=True)
class StepMetrics:
    """ProcessBench's numbers for one group of samples. An accuracy over no samples is None, and so is F1 then
    (an all-correct subset has no error accuracy); F1 is 0 when both accuracies are 0."""

    num_samples: int
    num_erroneous: int
    num_correct: int
    erroneous_hits: int
    correct_hits: int
    error_acc: float | None
    correct_acc: float | None
    f1: float | None


@dataclass(frozen=True)
class Calibration:
    """The calibrated threshold and what it scored on the calibration split."""

    threshold: float
    f1: float
    error_acc: float
    correct_acc: float
    num_candidates: int
    num_tied: int


def _raise_if_any(errors: list[str]) -> None:
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
        raise InputError("\n".join(errors[:MAX_REPORTED_ERRORS]) + more)


def _scores_of(row: dict[str, Any], where: str, field: str, steps: int) -> tuple[float, ...]:
    value = row.get(field)
    ok = isinstance(value, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value
    )
    if not ok or len(value) != steps:
        raise ValueError(
            f"{where}: {field} must be a list of {steps} finite numbers (one per step), got {value!r}"[:240]
        )
    return tuple(float(x) for x in value)


def _drop_blank_steps(sample: StepSample) -> StepSample:
    """Blank steps dropped (they vanish when steps are joined and re-split, shifting every later score), the label
    and any given scores moved with them; ``SkippedRow`` when the labelled step itself is blank."""
    keep = [i for i, step in enumerate(sample.steps) if step.strip()]
    if len(keep) == len(sample.steps):
        return sample
    if not keep:
        raise SkippedRow(f"{sample.where}: every step is blank")
    if sample.label != -1 and sample.label not in keep:
        raise SkippedRow(f"{sample.where}: the labelled first error, step {sample.label}, is blank")
    label = -1 if sample.label == -1 else keep.index(sample.label)
    scores = None if sample.given_scores is None else tuple(sample.given_scores[i] for i in keep)
    return replace(sample, steps=tuple(sample.steps[i] for i in keep), label=label, given_scores=scores)


def _sample(row: dict[str, Any], where: str, subset: str, scores_field: str | None = None) -> StepSample:
    """One validated row; a bad one raises ValueError with the message for the user."""
    missing = [k for k in ("id", "problem", "steps", "label") if row.get(k) is None]
    if missing:
        raise ValueError(
            f"{where}: missing or null field {', '.join(map(repr, missing))} (fields: {', '.join(sorted(row))})"
        )
    sid, problem, steps, label = row["id"], row["problem"], row["steps"], row["label"]
    if isinstance(sid, bool) or not isinstance(sid, (str, int)):
        raise ValueError(f"{where}: id must be a string or an integer, got {sid!r}")
    if not isinstance(problem, str) or not problem.strip():
        raise ValueError(f"{where}: problem must be a non-empty string")
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"{where}: steps must be a non-empty list of strings, got {steps!r}"[:200])
    for i, step in enumerate(steps):
        if not isinstance(step, str):
            raise ValueError(f"{where}: step {i} must be a string, got {step!r}"[:200])
    if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
        raise ValueError(
            f"{where}: label must be -1 (no wrong step) or a step index in 0..{len(steps) - 1}, got {label!r}"
        )
    given = _scores_of(row, where, scores_field, len(steps)) if scores_field else None
    return StepSample(where, subset, sid, problem, tuple(steps), label, given)


def read_samples(
    paths: Sequence[Path],
    subset: str | None = None,
    scores_field: str | None = None,
    skipped: list[str] | None = None,
) -> list[StepSample]:
    """Every sample of ``paths``, validated; all bad lines are reported together with their line numbers. Rows
    left out (a blank labelled step) are appended to ``skipped`` when given."""
    samples, errors = [], []
    seen: dict[tuple[str, str | int], str] = {}
    for path in paths:
        path = Path(path)
        rows = read_rows(path)  # raises InputError for missing files and bad JSON, with lines
        if not rows:
            errors.append(f"{path}: no samples")
        for lineno, row in rows:
            where = f"{path}:{lineno}"
            name = subset or row.get("subset") or row.get("source") or path.stem
            if not isinstance(name, str):
                errors.append(f"{where}: subset must be a string, got {name!r}")
                continue
            try:
                s = _drop_blank_steps(_sample(row, where, name, scores_field))
            except SkippedRow as exc:
                if skipped is not None:
                    skipped.append(str(exc))
                continue
            except ValueError as exc:
                errors.append(str(exc))
                continue
            # The same file passed twice (or two subsets' files sharing ids under --subset) would double-count.
            if (s.subset, s.id) in seen:
                errors.append(
                    f"{where}: duplicate id {s.id!r} in subset {s.subset!r} (first at {seen[s.subset, s.id]})"
                )
                continue
            seen[s.subset, s.id] = where
            samples.append(s)
    _raise_if_any(errors)
    return samples


def first_error(scores: Sequence[float], threshold: float) -> int:
    """Index of the first score strictly below ``threshold``, or -1 when there is none."""
    for i, s in enumerate(scores):
        if s < threshold:
            return i
    return -1


def _ratio(hits: int, n: int) -> float | None:
    return hits / n if n else None


def step_metrics(predictions: Sequence[int], labels: Sequence[int]) -> StepMetrics:
    """Error accuracy, correct accuracy and F1 (their harmonic mean) of predicted against labelled first errors."""
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    n_err = sum(1 for y in labels if y != -1)
    err_hits = sum(1 for p, y in zip(predictions, labels) if y != -1 and p == y)
    cor_hits = sum(1 for p, y in zip(predictions, labels) if y == -1 and p == -1)
    n_cor = len(labels) - n_err
    a, b = _ratio(err_hits, n_err), _ratio(cor_hits, n_cor)
    f1 = None if a is None or b is None else (0.0 if a + b == 0 else 2 * a * b / (a + b))
    return StepMetrics(len(labels), n_err, n_cor, err_hits, cor_hits, a, b, f1)


def _prefix_mins(scores: Sequence[float]) -> list[float]:
    out, low = [], math.inf
    for s in scores:
        low = min(low, s)
        out.append(low)
    return out


def candidate_thresholds(score_lists: Sequence[Sequence[float]]) -> list[float]:
    """Midpoints between consecutive distinct observed scores, plus one point below and one above them all."""
    values = sorted({s for scores in score_lists for s in scores})
    if not values:
        raise ValueError("no scores to calibrate on")
    mids = [(lo + hi) / 2 for lo, hi in zip(values, values[1:])]
    return [values[0] - 1.0, *mids, values[-1] + 1.0]


def calibrate_threshold(score_lists: Sequence[Sequence[float]], labels: Sequence[int]) -> Calibration:
    """The candidate threshold with the highest F1 on this split (lowest one on ties).

    Every candidate is scored at once, without re-predicting: with m_i the minimum of a sample's first i+1
    scores, the prediction is right for a correct sample iff ``t <= m_last``, and for a sample whose first
    error is step L iff ``m_L < t <= m_{L-1}`` (no earlier step flagged, step L flagged; m_{-1} = +inf).
    """
    if len(score_lists) != len(labels):
        raise ValueError(f"{len(score_lists)} score lists for {len(labels)} labels")
    cor_mins, err_lo, err_hi = [], [], []
    for scores, y in zip(score_lists, labels):
        m = _prefix_mins(scores)
        if y == -1:
            cor_mins.append(m[-1])
        else:
            err_lo.append(m[y])
            err_hi.append(m[y - 1] if y > 0 else math.inf)
    n_cor, n_err = len(cor_mins), len(err_lo)
    if not n_cor or not n_err:
        raise ValueError(
            f"calibration needs both erroneous and correct samples, got {n_err} erroneous and {n_cor} correct"
        )
    cor_mins.sort()
    err_lo.sort()
    err_hi.sort()
    best: tuple[Fraction, float, int, int] | None = None
    tied = 0
    candidates = candidate_thresholds(score_lists)
    for t in candidates:
        k_cor = n_cor - bisect.bisect_left(cor_mins, t)  # #(m_last >= t)
        k_err = bisect.bisect_left(err_lo, t) - bisect.bisect_left(err_hi, t)  # #(m_L < t) - #(m_{L-1} < t)
        # Exact F1 from the counts, so that equal F1s tie exactly and the tie rule decides, not float rounding.
        f1 = Fraction(0) if k_cor == k_err == 0 else Fraction(2 * k_err * k_cor, k_err * n_cor + k_cor * n_err)
        if best is None or f1 > best[0]:  # candidates ascend, so strict ">" keeps the lowest tied threshold
            best, tied = (f1, t, k_err, k_cor), 1
        elif f1 == best[0]:
            tied += 1
    assert best is not None
    f1, t, k_err, k_cor = best
    return Calibration(t, float(f1), k_err / n_err, k_cor / n_cor, len(candidates), tied)


def score_samples(prm: StepScorer, samples: Sequence[StepSample], chunk_size: int | None = None) -> list[list[float]]:
    """The PRM's step scores for every sample, in one call (the PRM batches and sorts by length itself, and shows
    its own progress) or ``chunk_size`` samples per call; checked for shape and finiteness so that a broken PRM
    fails here rather than as a strange metric."""
    out: list[list[float]] = []
    step = chunk_size or max(len(samples), 1)
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        got = prm.step_rewards([s.problem for s in chunk], [list(s.steps) for s in chunk])
        if len(got) != len(chunk):
            raise ValueError(f"the PRM returned {len(got)} score lists for {len(chunk)} samples")
        for s, scores in zip(chunk, got):
            if len(scores) != len(s.steps):
                raise ValueError(f"{s.where}: the PRM returned {len(scores)} scores for {len(s.steps)} steps")
            if not all(math.isfinite(x) for x in scores):
                raise ValueError(f"{s.where}: the PRM returned non-finite step scores {list(scores)}")
            out.append([float(x) for x in scores])
    return out


def evaluate(samples: Sequence[StepSample], scores: Sequence[Sequence[float]], threshold: float) -> dict[str, Any]:
    """Predictions and metrics per subset (in order of first appearance), pooled, and the mean subset F1."""
    preds = [first_error(s, threshold) for s in scores]
    by_subset: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        by_subset.setdefault(s.subset, []).append(i)
    subsets = {
        name: asdict(step_metrics([preds[i] for i in idx], [samples[i].label for i in idx]))
        for name, idx in by_subset.items()
    }
    f1s = [m["f1"] for m in subsets.values() if m["f1"] is not None]
    return {
        "predictions": preds,
        "subsets": subsets,
        OVERALL: asdict(step_metrics(preds, [s.label for s in samples])),
        # ProcessBench's headline: the unweighted mean of the subset F1s (subsets without one are left out).
        "mean_f1": sum(f1s) / len(f1s) if f1s else None,
    }


def _step_scores(prm: StepScorer | None, samples: Sequence[StepSample], chunk_size: int | None) -> list[list[float]]:
    """The PRM's scores, or with ``prm=None`` the scores the file gave (``--step-scores-field``)."""
    if prm is not None:
        return score_samples(prm, samples, chunk_size)
    return [list(s.given_scores or ()) for s in samples]


def run_step_eval(
    data: Sequence[Path],
    prm: StepScorer | None,
    output: Path,
    *,
    threshold: float | None = None,
    calibration: Path | None = None,
    subset: str | None = None,
    chunk_size: int | None = None,
    scores_field: str | None = None,
) -> dict[str, Any]:
    """Score, predict and measure; writes ``output/step_eval.json`` and ``output/predictions.jsonl``. ``prm=None``
    takes each row's step scores from ``scores_field``."""
    if (threshold is None) == (calibration is None):
        raise InputError("give exactly one of a threshold and a calibration file")
    if threshold is not None and not math.isfinite(threshold):
        raise InputError(f"the threshold must be a finite number, got {threshold}")
    if (prm is None) == (scores_field is None):
        raise InputError("give exactly one of a step scorer and a step-scores field")
    data = [Path(p) for p in data]
    skipped: list[str] = []
    samples = read_samples(data, subset, scores_field, skipped)
    cal_samples = read_samples([Path(calibration)], None, scores_field, []) if calibration is not None else []
    if calibration is not None:
        if Path(calibration).resolve() in {p.resolve() for p in data}:
            print(
                f"warning: the calibration file {calibration} is also evaluated: the threshold is tuned on the "
                "evaluated split, so its F1 is optimistic",
                file=sys.stderr,
            )
        cal_scores = _step_scores(prm, cal_samples, chunk_size)
        try:
            cal = calibrate_threshold(cal_scores, [s.label for s in cal_samples])
        except ValueError as exc:
            raise InputError(f"{calibration}: {exc}") from exc
        threshold = cal.threshold
        how = {"source": "calibration", "file": str(calibration), "num_samples": len(cal_samples), **asdict(cal)}
    else:
        how = {"source": "given"}
    assert threshold is not None
    if not samples:
        raise InputError("no row left to evaluate: " + "; ".join(skipped[:MAX_REPORTED_ERRORS]))
    scores = _step_scores(prm, samples, chunk_size)
    result = evaluate(samples, scores, threshold)
    preds = result.pop("predictions")
    describe = getattr(prm, "describe", None)
    if prm is None:
        scorer = {"name": "field", "field": scores_field}
    else:
        scorer = describe() if callable(describe) else {"name": type(prm).__name__}
    result = {
        "data": [str(p) for p in data],
        "prm": scorer,
        "threshold": {"value": threshold, "rule": "first step with score < threshold", **how},
        **result,
        "skipped": skipped,
    }
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    rows = [
        {"id": s.id, "subset": s.subset, "label": s.label, "predicted": p, "match": p == s.label, "step_scores": sc}
        for s, p, sc in zip(samples, preds, scores)
    ]
    write_atomic(output / "predictions.jsonl", "".join(json_line(r) for r in rows))
    write_atomic(output / "step_eval.json", json_document(result))
    return result


def markdown_table(result: dict[str, Any]) -> str:
    """The per-subset table, an overall (pooled) line when there are several subsets, and the mean F1."""
    lines = [
        "| subset | samples | erroneous | correct | error acc | correct acc | F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = list(result["subsets"].items())
    if len(rows) > 1:
        rows.append((f"{OVERALL} (pooled)", result[OVERALL]))
    for name, m in rows:
        lines.append(
            f"| {name} | {m['num_samples']} | {m['num_erroneous']} | {m['num_correct']} | {pct(m['error_acc'])} | "
            f"{pct(m['correct_acc'])} | {pct(m['f1'])} |"
        )
    t = result["threshold"]
    lines.append(f"threshold {t['value']:.6g} ({t['source']}); mean F1 over subsets: {pct(result['mean_f1'])}")
    if result.get("skipped"):
        lines.append(f"left out {len(result['skipped'])} rows (a blank labelled step), e.g. {result['skipped'][0]}")
    return "\n".join(lines)


def add_step_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``prime-eval step-eval``."""
    from ..device import DEVICES_HELP, DTYPES
    from .formatting import FORMATS
    from .steps import STEP_REWARDS

    parser.add_argument("--data", required=True, nargs="+", type=Path, metavar="FILE", help="ProcessBench JSONL")
    parser.add_argument(
        "--subset",
        default=None,
        help="subset name for every row (default: its subset or source field, else file stem)",
    )
    parser.add_argument("--output", required=True, type=Path, help="folder for step_eval.json, predictions.jsonl")
    th = parser.add_mutually_exclusive_group(required=True)
    th.add_argument("--threshold", type=float, help="a step is wrong when its score is below this")
    th.add_argument("--calibration", type=Path, metavar="FILE", help="choose the F1-best threshold on this split")
    scorer = parser.add_argument_group("step scorer (exactly one)").add_mutually_exclusive_group(required=True)
    scorer.add_argument(
        "--step-scores-field", metavar="NAME", help="scores already in the file: a list, one number per step"
    )
    scorer.add_argument("--implicit-prm", metavar="MODEL", help="implicit PRM pi_phi: Hub id or local folder")
    g = parser.add_argument_group("implicit PRM (docs/reward-models.md)")
    ref = g.add_mutually_exclusive_group()
    ref.add_argument("--ref-model", metavar="MODEL", help="reference pi_ref of the implicit PRM")
    ref.add_argument("--no-ref", action="store_true", help="score with pi_phi alone (the 'w/o ref' variant)")
    # None = not given: ImplicitPRMSettings' own default applies (and describe() records it).
    g.add_argument("--step-reward", choices=STEP_REWARDS, help="Q at step ends, or its change (default accumulative)")
    g.add_argument("--beta", type=float, help="token reward coefficient (default 0.001, the reference scripts')")
    g.add_argument("--format", choices=FORMATS, help="chat template or plain question+response (default auto)")
    g.add_argument("--batch-size", type=int, help="sequences per forward pass (default 8)")
    g.add_argument("--device", help=f"{DEVICES_HELP} (default auto)")
    g.add_argument("--dtype", choices=DTYPES, help="default auto: bfloat16 on a GPU, float32 on CPU")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


_PRM_OPTIONS = ("step_reward", "beta", "format", "batch_size", "device", "dtype")


def _implicit_prm(args: argparse.Namespace):
    from .implicit_prm import ImplicitPRM

    given = {k: getattr(args, k) for k in _PRM_OPTIONS if getattr(args, k, None) is not None}
    if args.implicit_prm is None:
        if given or args.ref_model or args.no_ref:
            names = [*given, *(["ref_model"] if args.ref_model else []), *(["no_ref"] if args.no_ref else [])]
            flags = ", ".join("--" + k.replace("_", "-") for k in names)
            raise InputError(f"{flags}: only with --implicit-prm")
        return None
    if args.ref_model is None and not args.no_ref:
        raise InputError("--implicit-prm needs --ref-model MODEL, or --no-ref for the 'w/o ref' variant")
    ref = None if args.no_ref else args.ref_model
    return ImplicitPRM(args.implicit_prm, ref=ref, progress=not args.quiet, **given)


def cmd_step_eval(args: argparse.Namespace) -> int:
    """Run the evaluation; bad input raises ``InputError`` (the caller prints it and exits 2)."""
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise InputError(f"--threshold must be a finite number, got {args.threshold}")
    # Check every input file before loading a model: a typo should cost a second, not a model load.
    read_samples(args.data, args.subset, args.step_scores_field)
    if args.calibration is not None:
        read_samples([args.calibration], None, args.step_scores_field)
    result = run_step_eval(
        args.data,
        _implicit_prm(args),
        args.output,
        threshold=args.threshold,
        calibration=args.calibration,
        subset=args.subset,
        scores_field=args.step_scores_field,
    )
    print(markdown_table(result))
    print(f"wrote {args.output / 'step_eval.json'}")
    return 0
