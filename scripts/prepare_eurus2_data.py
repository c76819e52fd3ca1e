"""Turn PRIME-RL/Eurus-2-RL-Data (parquet, as published on the Hub) into the JSONL the Eurus-2 recipes read.

    python scripts/prepare_eurus2_data.py train.parquet [more.parquet ...] --output data/eurus2_rl_math.jsonl

Keeps the math rows (``ability == "math"``): each becomes ``{"id", "prompt", "gold", "data_source"}`` with the
dataset's own chat messages as ``prompt`` (the recipes set ``data.messages_field: prompt``) and
``reward_model.ground_truth`` as ``gold``. The code rows need a per-row verifier choice the trainer does not make yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def convert(rows, out) -> int:
    kept = 0
    for index, row in enumerate(rows):
        if row.get("ability") != "math":
            continue
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in row["prompt"]]
        gold = row["reward_model"]["ground_truth"]
        record = {"id": f"{row.get('data_source', 'eurus2')}-{index}", "prompt": messages, "gold": gold,
                  "data_source": row.get("data_source")}  # fmt: skip
        out.write(json.dumps(record) + "\n")
        kept += 1
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet", nargs="+", type=Path)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    import pandas as pd

    args.output.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    with open(args.output, "w") as out:
        for path in args.parquet:
            if not path.is_file():
                print(f"prepare_eurus2_data: {path}: no such file", file=sys.stderr)
                return 2
            total += convert(pd.read_parquet(path).to_dict("records"), out)
    print(f"wrote {total} math prompts to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
