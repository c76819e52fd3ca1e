"""prime inside other tools: Hugging Face ``evaluate`` metrics (``evaluate/prime_math``, ``evaluate/prime_code``)."""

from pathlib import Path

EVALUATE_METRICS = ("prime_math", "prime_code")


def evaluate_metric_path(name: str) -> str:
    """The folder to pass to ``evaluate.load`` for one of prime's metrics; no Hub access is needed."""
    if name not in EVALUATE_METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(EVALUATE_METRICS)}")
    return str(Path(__file__).with_name("evaluate") / name)


def metric_info(description: str, inputs: str, prediction):
    """The ``evaluate.MetricInfo`` of one of prime's metrics: ``prediction`` is the ``datasets`` feature of one
    prediction; a reference is text (a gold answer or a task id)."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=description,
        citation="",
        inputs_description=inputs,
        features=datasets.Features({"predictions": prediction, "references": datasets.Value("string")}),
    )
