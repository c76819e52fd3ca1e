"""``prime-train``: entry point of the PRIME trainer. The trainer itself is not built yet (issue 7)."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prime-train", description="PRIME RL training (not implemented yet).")
    parser.add_argument("--version", action="version", version=f"prime-train {__version__}")
    parser.parse_args(argv)
    print("prime-train: the trainer is not implemented yet; see docs/architecture.md for its planned data path",
          file=sys.stderr)  # fmt: skip
    return 2


if __name__ == "__main__":
    sys.exit(main())
