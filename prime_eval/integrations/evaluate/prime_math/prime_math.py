"""prime's math verifier as a Hugging Face ``evaluate`` metric, loadable from this file without the Hub:

    import evaluate
    metric = evaluate.load(".../prime_eval/integrations/evaluate/prime_math")
    metric.compute(predictions=["... \\boxed{\\frac12}"], references=["0.5"])  # {"accuracy": 1.0, ...}

The numbers are exactly those of ``prime-eval score``: the same verifier, through the same kill-bounded pool.
"""

import datasets
import evaluate

from prime_eval.integrations import metric_info
from prime_eval.verify import DEFAULT_TIMEOUT_S, get_verifier, verify_batch

_DESCRIPTION = "Accuracy of final answers to math problems, judged by prime's shared math verifier."
_INPUTS = """
Args:
    predictions: whole model responses (the final answer is extracted: boxes, answer phrases, think blocks).
    references: gold answers (a whole reference solution works too: its last box is the gold).
    percent: "strip" (50% reads as 50) or "value" (50% reads as 0.5).
    timeout_s: wall-clock limit per check (default: prime's, as `prime-eval score`).
Returns:
    accuracy, and per-sample `correct`, `status` and canonical `answers` (for majority voting).
"""


class PrimeMath(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _INPUTS, datasets.Value("string"))

    def _compute(self, predictions, references, percent="strip", timeout_s=DEFAULT_TIMEOUT_S):
        verifier = get_verifier("math", percent=percent)
        verdicts = verify_batch(verifier, list(predictions), list(references), timeout_s=timeout_s, progress=False)
        correct = [v.correct for v in verdicts]
        return {
            "accuracy": sum(correct) / len(correct) if correct else 0.0,
            "correct": correct,
            "status": [v.status.value for v in verdicts],
            "answers": [v.answer for v in verdicts],
        }
