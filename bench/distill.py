"""A searched ensemble against the one student distilled from it (`ensemble.distill --max-mb 5`): their
validation RMSE (the ensemble's also held out) and the time `ensemble.predict` takes for 1783 faces
(Kaggle's test set size), end to end, each in a fresh process.

    python -m bench.distill --run NAME [--runs-dir runs] [--data ../shared/data/faces15] [--max-mb 5] [--epochs N]

The search must have its ensemble (ensemble.build); the student is written to runs/NAME/student.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import FACES15, ROOT, write_results
from data.reader import load_faces
from data.synthetic import images_to_strings
from ensemble.ensemble import Ensemble
from search.results import SearchFolder

KAGGLE_TEST_FACES = 1783


def predict_seconds(folder: Path, test: Path, work: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ensemble.predict", "--ensemble", str(folder), "--test", str(test), "--tta", "flip",
                    "--out", str(work / f"{folder.name}.csv")], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--max-mb", type=float, default=5)
    parser.add_argument("--epochs", type=int, help="the student's epochs (default: ensemble.distill's)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/distill.json"))
    args = parser.parse_args()
    search = SearchFolder(args.runs_dir / args.run)
    start = time.perf_counter()
    epochs = ["--epochs", str(args.epochs)] if args.epochs else []
    subprocess.run([sys.executable, "-m", "ensemble.distill", "--max-mb", str(args.max_mb), "--runs-dir", str(args.runs_dir),
                    "--run", args.run, *epochs], check=True, cwd=ROOT)
    distill_s = time.perf_counter() - start
    teacher, student = Ensemble(search.ensemble_folder).manifest, Ensemble(search.student_folder).manifest

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pool = load_faces(args.data / "test.csv.gz").images
        faces = pd.DataFrame({"ImageId": np.arange(1, KAGGLE_TEST_FACES + 1),
                              "Image": images_to_strings(pool[np.arange(KAGGLE_TEST_FACES) % len(pool)])})
        faces.to_csv(work / "test.csv", index=False)
        seconds = {name: predict_seconds(folder, work / "test.csv", work)
                   for name, folder in (("ensemble", search.ensemble_folder), ("student", search.student_folder))}
    results = {"teacher": {"val_rmse": teacher.val_rmse, "heldout_rmse": teacher.heldout.ensemble_rmse, "mb": teacher.total_mb,
                           "members": len(teacher.members), "predict_s": seconds["ensemble"]},
               "student": {"arch": student.members[0].arch, "val_rmse": student.val_rmse, "mb": student.total_mb, "predict_s": seconds["student"],
                           "epochs": student.members[0].config["epochs"], "distill_s": distill_s},
               "student_over_heldout": student.val_rmse / teacher.heldout.ensemble_rmse}
    write_results("distill", args, results, args.out)
    print(f"ensemble: {teacher.val_rmse:.3f} px (held out {teacher.heldout.ensemble_rmse:.3f}), {teacher.total_mb:.1f} MB, "
          f"{seconds['ensemble']:.1f} s for {KAGGLE_TEST_FACES} faces")
    print(f"student {student.members[0].arch}: {student.val_rmse:.3f} px ({results['student_over_heldout'] - 1:+.1%} against the held-out "
          f"ensemble), {student.total_mb:.2f} MB, {seconds['student']:.1f} s; distilled in {distill_s / 60:.1f} min")


if __name__ == "__main__":
    main()
