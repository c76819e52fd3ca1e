"""Box CPU per check, A against B, taking turns check by check: the figure that load on a shared machine moves least.

Each side is one one-worker local box (namespaces level) started from a box script (``sandbox/_box.py`` of this
checkout, or of another revision: ``git show REV:sandbox/_box.py > /tmp/old/_box.py``, with its sibling modules
beside it if that revision has any) and a way to run a HumanEval canonical solution:

  plain    the check as one program (prompt + solution + test + check call), as bench_sandbox.py's sandbox row;
  harness  the code harness as the run's program (it forks the candidate), as a docker run or the bwrap level;
  helper   the harness as the box's helper, the candidate as the run's program, as the CodeVerifier by default.

The CPU of a box is that of every process under its bubblewrap (the runner with what it reaped, and a live helper),
read from /proc before and after each check.

    python benchmarks/perf/bench_box_cpu.py --a /tmp/old/_box.py:harness --b sandbox/_box.py:helper [--n 164]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from prime_common.jsonl import read_jsonl

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its descendants, with the children each has reaped."""
    children: dict[int, list[tuple[int, int]]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append((int(name), sum(int(x) for x in fields[11:15])))
    total, todo = 0, [root]
    while todo:
        for pid, ticks in children.get(todo.pop(), []):
            total += ticks
            todo.append(pid)
    return total / TICK


class Side:
    def __init__(self, spec: str):
        import sandbox.local as local

        script, self.mode = spec.rsplit(":", 1)
        if self.mode not in ("plain", "harness", "helper"):
            raise SystemExit(f"unknown mode {self.mode!r}")
        script_path = Path(script).resolve()
        local.BOX_SCRIPT = script_path  # read when the box starts, with the sibling modules beside it
        siblings = (script_path.parent / name for name in ("_box_io.py", "_box_helpers.py"))
        local.BOX_MODULES = tuple(path for path in siblings if path.exists())
        self.backend = local.LocalBackend(workers=1, isolation="namespaces")
        self.backend.run("pass")
        self.root = next(iter(self.backend._boxes)).proc.pid
        self.spec = spec
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.failed = 0

    def check(self, problem: dict) -> None:
        from prime_eval.verify.code import CANDIDATE_PROGRAM
        from prime_eval.verify.code_tests import (
            HARNESS_MODULE,
            HARNESS_PROGRAM,
            CodeTests,
            candidate_sources,
            harness_config,
        )
        from sandbox import Limits

        limits = Limits(wall_time_s=3, cpu_time_s=3)
        before, start = tree_cpu(self.root), time.perf_counter()
        if self.mode == "plain":
            source = f"{problem['prompt']}{problem['canonical_solution']}\n{problem['test']}\n"
            run = self.backend.run(f"{source}check({problem['entry_point']})\n", limits=limits)
            good = run.ok
        else:
            program = problem["prompt"] + problem["canonical_solution"]
            tests = CodeTests(
                tests=(f"{problem['test']}\ncheck({problem['entry_point']})\n",),
                prompt=problem["prompt"],
                entry_point=problem["entry_point"],
            )
            config = harness_config(program, tests, test_timeout_s=3, stop_on_first_failure=False)
            stdin = candidate_sources(program, tests)
            if self.mode == "helper":
                helper = {"helper": HARNESS_MODULE}
                run = self.backend.run(CANDIDATE_PROGRAM, sealed=config, stdin=stdin, limits=limits, **helper)
            else:
                run = self.backend.run(HARNESS_PROGRAM, sealed=config, stdin=stdin, limits=limits)
            good = run.ok and run.stdout.startswith("0 pass")
        self.wall.append(time.perf_counter() - start)
        self.cpu.append(tree_cpu(self.root) - before)
        self.failed += not good


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="BOX_SCRIPT:MODE")
    parser.add_argument("--b", required=True, help="BOX_SCRIPT:MODE")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "benchmarks")
    parser.add_argument("--n", type=int, default=164)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    from prime_eval.verify.code_tests import HARNESS_MODULE, HARNESS_SOURCE
    from sandbox.local import preload_module

    preload_module(HARNESS_MODULE, HARNESS_SOURCE)
    problems = read_jsonl(args.data / "humaneval" / "HumanEval.jsonl")[: args.n]
    sides = [Side(args.a), Side(args.b)]
    for side in sides:  # warm: the compile cache, the helper
        side.check(problems[0])
        side.cpu.clear()
        side.wall.clear()
    for round_ in range(args.rounds):
        for problem in problems:
            for side in sides if round_ % 2 == 0 else sides[::-1]:
                side.check(problem)
    for side in sides:
        print(
            f"{side.spec}: box CPU per check {1000 * statistics.mean(side.cpu):.2f} ms, "
            f"wall p50 {1000 * statistics.median(side.wall):.1f} ms, failed {side.failed}"
        )
        side.backend.close()


if __name__ == "__main__":
    main()
