"""prime's code verifier as a Hugging Face ``evaluate`` metric: pass@k over benchmark tasks, run in prime's sandbox.

    import os, evaluate
    os.environ["PRIME_ALLOW_CODE_EVAL"] = "1"   # an explicit opt-in, like evaluate's own code_eval
    metric = evaluate.load(".../prime_eval/integrations/evaluate/prime_code")
    metric.compute(predictions=[[response, ...], ...], references=["HumanEval/0", ...], benchmark="humaneval")

Each reference is a task id of the benchmark (a code benchmark of prime's registry: humaneval, mbpp, leetcode,
livecodebench); each prediction is the list of sampled responses for that task. Scores equal
``prime-eval score --benchmark ...`` on the same responses.
"""

import os

import datasets
import evaluate

from prime_eval.code_scoring import load_code_tasks
from prime_eval.integrations import metric_info
from prime_eval.metrics import pass_at_k
from prime_eval.verify import get_verifier, verify_batch

OPT_IN = "PRIME_ALLOW_CODE_EVAL"
_DESCRIPTION = "pass@k of model-written programs against a benchmark's tests, executed in prime's sandbox."
_INPUTS = """
Args:
    predictions: one list of responses (samples) per task, e.g. [["```python\ndef f(x): ...```", ...], ...]; a
        response is the model's whole text (prime extracts the program from it, as `prime-eval score` does).
    references: the task ids, one per list of predictions, e.g. ["HumanEval/0", ...] (MBPP's integer ids as text).
    benchmark: a code benchmark of prime's registry: humaneval | mbpp | leetcode | livecodebench.
    k: the k values of pass@k (default [1]); each must not exceed the number of samples.
    data_dir_path: the benchmark files (default: $PRIME_BENCHMARK_DATA or ../shared/benchmarks); not `data_dir`,
        which `evaluate` keeps for its own cache folder.
    timeout_s: wall-clock limit of each response's whole check, enforced by its sandbox run (default: the code
        verifier's own, as `prime-eval score --benchmark`).
Returns:
    pass@k for each k, and per-task lists of `correct` and `score` (fraction of tests passed).
"""


class PrimeCode(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _INPUTS, datasets.Sequence(datasets.Value("string")))

    def _compute(self, predictions, references, benchmark="humaneval", k=(1,), data_dir_path=None, timeout_s=None):
        if os.environ.get(OPT_IN) != "1":
            raise ValueError(
                f"prime_code runs model-written programs (in prime's sandbox); set {OPT_IN}=1 to allow it"
            )
        tasks = load_code_tasks(benchmark, data_dir_path)
        unknown = [r for r in references if str(r) not in tasks]
        if unknown:
            raise ValueError(f"unknown {benchmark} task id(s): {', '.join(map(str, unknown[:5]))}")
        flat = [(i, resp) for i, samples in enumerate(predictions) for resp in samples]
        refs = [tasks[str(references[i])] for i, _ in flat]
        verifier = get_verifier("code", **({} if timeout_s is None else {"timeout_s": timeout_s}))
        verdicts = verify_batch(verifier, [r for _, r in flat], refs, progress=False)
        correct = [[] for _ in predictions]
        scores = [[] for _ in predictions]
        for (i, _), v in zip(flat, verdicts):
            correct[i].append(v.correct)
            scores[i].append(v.score)
        result = {"correct": correct, "score": scores}
        for kk in k:
            result[f"pass@{kk}"] = sum(pass_at_k(len(c), sum(c), kk) for c in correct) / len(correct)
        return result
