"""``python -m benchmarks.claim [options]``: the same as ``highseas bench claim [options]``."""

from __future__ import annotations

import sys

from highseas.config.cli import main


def run(argv: list[str] | None = None) -> None:
    main(["bench", "claim", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    run()
