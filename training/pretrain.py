"""`python -m training.pretrain --train FILE [FILE ...] --out DIR`: a starting model for searches on small data.

A net trained from scratch on a few hundred faces cannot learn what one that has seen thousands brings with
it. This trains training.train's recipe on every labelled face you have the right to use (Kaggle's 7049
faces, a public landmark set cropped to the 96x96 layout as bench/mtfl.py crops MTFL; several files at once,
each with its own missing keypoints) and writes a checkpoint folder that `search.run --init DIR` and
`training.train --init DIR` start from, on this machine or on another one (copy the folder). Every other
training.train flag applies (--epochs, --arch, --val, ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .train import main as train_main


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.pretrain", description=__doc__.split("\n\n")[0],
                                epilog="Every other flag goes to training.train (python -m training.train --help lists them).")
    p.add_argument("--train", nargs="+", required=True, metavar="FILE", help="the labelled CSVs to learn from, together")
    p.add_argument("--out", type=Path, required=True, help="the checkpoint folder to write")
    args, rest = p.parse_known_args(argv)
    train_main(["--train", *args.train, "--checkpoint", str(args.out), *rest])
    print(f"start from it: python -m search.run --train YOUR_FILE --init {args.out} (or training.train --init {args.out})")


if __name__ == "__main__":
    main()
