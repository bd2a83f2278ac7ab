"""``python -m pytest_latebind``: the package's own command line (``--version`` for now)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_latebind",
        description="pytest-latebind catches late-binding closures as your tests run them: "
                    "run pytest with --latebind (see pytest --help).",
    )
    parser.add_argument("--version", action="version", version=f"pytest-latebind {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
