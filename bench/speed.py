"""How fast kptune trains and predicts on this machine: every architecture's training and inference
images per second (float32 and bfloat16), the search space's nets trained eager and compiled
(torch.compile), what Ray Tune costs a trial, trials per hour with one trial
on every core against one trial per core, and a submission from a 50 MB ensemble.

    python -m bench.speed [--data ../shared/data/faces15] [--quick] [--sections ...] [--out bench/results/speed.json]

Training speed is the project's own step (Trainer.train_step: flip, forward, masked loss, backward,
optimizer) on random faces; inference is predict_keypoints. The Tune overhead ratio is the wall time of
a one-trial search (Ray already started) over that of `training.train` with the same configuration.
--quick: one batch size, short windows, no trials-per-hour comparison (for a GPU check in minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.common import FACES15, cpu_start_point, write_results
from configs import CPU_SPACE, DEFAULT_SPACE
from data.faces import Faces
from data.reader import load_faces
from data.split import Split
from data.synthetic import images_to_strings
from ensemble.folder import Manifest, Member, member_bytes, member_file, write_ensemble
from models import cast_floating, create_model, list_models, saved_size_bytes
from search.experiment import start_ray
from search.results import SearchFolder
from search.space import load_space
from training.checkpoint import Checkpoint
from training.config import TrainConfig
from training.device import pick_device
from training.predict import predict_keypoints
from training.trainer import Trainer, prepare_process


def random_split(n: int) -> Split:
    rng = np.random.default_rng(0)
    faces = Faces(rng.integers(0, 256, (n, 96, 96), dtype=np.uint8), rng.uniform(10, 86, (n, 30)).astype(np.float32), np.arange(n), "random")
    return Split(faces, faces.subset(np.arange(32)))


def timed(step, seconds: float, min_steps: int = 2) -> float:
    """Seconds per call of step(), after one warm-up call, over at least `seconds` and `min_steps`."""
    step()
    calls, start = 0, time.perf_counter()
    while calls < min_steps or time.perf_counter() - start < seconds:
        step()
        calls += 1
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def training_speed(archs: list[str], batches: list[int], seconds: float) -> list[dict]:
    split = random_split(max(batches))
    rows = []
    for arch in archs:
        for batch in batches:
            row = {"arch": arch, "batch": batch}
            for amp in ("off", "bf16"):
                config = TrainConfig(arch=arch, batch_size=batch, dropout=0.0, amp=amp)
                prepare_process(config)
                trainer = Trainer(config, split)
                index = torch.arange(batch, device=trainer.device)
                row[f"train_img_s_{'fp32' if amp == 'off' else 'bf16'}"] = batch / timed(lambda t=trainer, i=index: t.train_step(i), seconds)
            print(f"train  {arch:<12} batch {batch:>3}: {row['train_img_s_fp32']:7.1f} img/s fp32, {row['train_img_s_bf16']:7.1f} bf16", flush=True)
            rows.append(row)
    return rows


def compile_speed(archs: list[str], batch: int, seconds: float, threads: int) -> list[dict]:
    """Training img/s eager and with torch.compile (TrainConfig.compile), in the precision `amp=auto`
    picks here, on `threads` CPU threads (0 = every core; a search's trial gets one); the compile's own
    seconds (its first steps) apart."""
    split = random_split(batch)
    rows = []
    for arch in archs:
        row = {"arch": arch, "batch": batch, "threads": threads}
        for compiled in (False, True):
            config = TrainConfig(arch=arch, batch_size=batch, dropout=0.0, compile=compiled, threads=threads)
            prepare_process(config)
            trainer = Trainer(config, split)
            index = torch.arange(batch, device=trainer.device)
            start = time.perf_counter()
            trainer.train_step(index)  # the compile happens here
            row["compile_s" if compiled else "first_step_s"] = time.perf_counter() - start
            row["train_img_s_compiled" if compiled else "train_img_s_eager"] = batch / timed(
                lambda t=trainer, i=index: t.train_step(i), seconds)
        print(f"compile {arch:<12} batch {batch}, {threads or 'all'} threads: {row['train_img_s_eager']:7.1f} img/s eager, {row['train_img_s_compiled']:7.1f} compiled "
              f"(compile {row['compile_s']:.0f} s)", flush=True)
        rows.append(row)
    return rows


def inference_speed(archs: list[str], seconds: float) -> list[dict]:
    device = pick_device("auto")
    images = torch.from_numpy(random_split(256).train.images).to(device)
    rows = []
    for arch in archs:
        model = create_model(arch).to(device, memory_format=torch.channels_last)
        row = {"arch": arch}
        for name, bf16 in (("fp32", False), ("bf16", True)):
            row[f"predict_img_s_{name}"] = len(images) / timed(lambda m=model, b=bf16: predict_keypoints(m, images, b), seconds, 1)
        print(f"predict {arch:<12}: {row['predict_img_s_fp32']:7.1f} img/s fp32, {row['predict_img_s_bf16']:7.1f} bf16", flush=True)
        rows.append(row)
    return rows


def write_space(folder: Path, text: str) -> Path:
    path = folder / "space.yaml"
    path.write_text(text)
    return path


def tune_overhead(data: Path, epochs: int, repeats: int, work: Path) -> dict:
    """training.train against a one-trial search of the same configuration, alternating, medians; also the
    seconds the epochs themselves took each way (the rest is start-up, checkpoints and outputs)."""
    from search.run import main as search_main
    from training.train import main as train_main

    # the default CPU space's first start point: what a search on a CPU trains first
    flags = {k.replace("_", "-"): str(v) for k, v in {**cpu_start_point(), "patience": epochs}.items()}
    space = write_space(work, "".join(f"{k.replace('-', '_')}: {v}\n" for k, v in flags.items()))
    data_flags = ["--train", str(data / "train.csv.gz"), "--val", str(data / "val.csv.gz")]
    direct, searched, direct_epochs, searched_epochs = [], [], [], []
    for r in range(repeats):
        start = time.perf_counter()
        train_main([f"--{k}={v}" for k, v in flags.items()] + ["--epochs", str(epochs), "--out", str(work / f"train{r}")] + data_flags)
        direct.append(time.perf_counter() - start)
        direct_epochs.append(sum(e.seconds for e in Checkpoint(work / f"train{r}").history()))
        start = time.perf_counter()
        search_main(["--trials", "1", "--max-epochs", str(epochs), "--space", str(space), "--storage", str(work / "runs"),
                     "--name", f"overhead{r}", "--no-dashboard", "--cpus-per-trial", str(os.cpu_count())] + data_flags)  # all cores, as training.train
        searched.append(time.perf_counter() - start)
        [trial] = SearchFolder(work / "runs" / f"overhead{r}").trials()
        searched_epochs.append(float(trial.history["epoch_seconds"].sum()))
    # The machine's speed drifts between runs by as much as the overhead, so each search is compared
    # with the training.train run just before it: the median of those paired ratios is the figure.
    ratio = statistics.median(s / d for d, s in zip(direct, searched))
    overhead = statistics.median(s - d for d, s in zip(direct, searched))
    epochs_ratio = statistics.median(s / d for d, s in zip(direct_epochs, searched_epochs))
    print(f"tune overhead: training.train {statistics.median(direct):.1f} s, one-trial search {statistics.median(searched):.1f} s (medians); "
          f"paired: ratio {ratio:.3f}, +{overhead:.1f} s; the epochs alone: ratio {epochs_ratio:.3f}", flush=True)
    return {"config": {**flags, "epochs": epochs}, "search_train_s": direct, "one_trial_search_s": searched,
            "search_train_epochs_s": direct_epochs, "one_trial_search_epochs_s": searched_epochs,
            "ratio": ratio, "overhead_s": overhead, "epochs_ratio": epochs_ratio}


TRIALS_SPACE = """\
start: [{arch: cnn_small}, {arch: cnn_gap}, {arch: vgg_opt_gap}, {arch: cnn}]
arch:
  choice: [cnn_small, cnn_gap, vgg_opt_gap, cnn]
dropout: 0.0
batch_size: 32
patience: 9
"""


def trials_per_hour(data: Path, epochs: int, work: Path) -> dict:
    """The same four short trials with one trial on every core, then one trial per core."""
    from search.run import main as search_main

    space = write_space(work, TRIALS_SPACE)
    result = {}
    for cpus in sorted({os.cpu_count() or 1, 1}, reverse=True):
        start = time.perf_counter()
        search_main(["--trials", "4", "--max-epochs", str(epochs), "--grace-period", str(epochs), "--space", str(space),
                     "--cpus-per-trial", str(cpus), "--storage", str(work / "runs"), "--name", f"cpus{cpus}", "--no-dashboard",
                     "--train", str(data / "train.csv.gz"), "--val", str(data / "val.csv.gz")])
        wall = time.perf_counter() - start
        board = SearchFolder(work / "runs" / f"cpus{cpus}").leaderboard()
        result[f"{cpus}_cpus_per_trial"] = {"wall_s": wall, "trials_per_hour": 4 * 3600 / wall,
                                            "val_rmse": dict(zip(board["arch"], board["best_val_rmse"]))}
        print(f"{cpus} CPU(s) per trial: 4 trials x {epochs} epochs in {wall:.0f} s = {4 * 3600 / wall:.0f} trials/hour", flush=True)
    return result


def ensemble_predict(data: Path, members: list[str], dtype: str, faces: int, work: Path) -> dict:
    """`python -m ensemble.predict --tta flip` on `faces` test faces, end to end (a fresh process: start,
    imports, CSV parse, prediction, CSV write), with random-weight members: speed only."""
    cast = {"fp32": torch.float32, "fp16": torch.float16}[dtype]
    states = {f"m{i}": cast_floating(create_model(a).state_dict(), cast)
              for i, a in enumerate(members)}
    sizes = [saved_size_bytes(create_model(a), cast) / 1e6 for a in members]
    manifest = Manifest(
        members=[Member(name, arch, member_file(name), 1 / len(members), mb, float("nan"), {"arch": arch})
                 for (name, arch, mb) in zip(states, members, sizes)],
        val_rmse=float("nan"), total_mb=sum(sizes), budget_mb=50, dtype=dtype, bf16=False, max_diff_px=float("nan"),
        run="bench.speed (random weights: timing only)", data={}, device="cpu", heldout=None,
    )

    folder = write_ensemble(work / "ensemble", manifest, {name: member_bytes(state) for name, state in states.items()})
    pool = load_faces(data / "train.csv.gz").images
    test = pd.DataFrame({"ImageId": np.arange(1, faces + 1), "Image": images_to_strings(pool[np.arange(faces) % len(pool)])})
    test.to_csv(work / "test.csv", index=False)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ensemble.predict", "--ensemble", str(folder), "--test", str(work / "test.csv"),
                    "--tta", "flip", "--out", str(work / "submission.csv")], check=True, cwd=Path(__file__).resolve().parents[1])
    seconds = time.perf_counter() - start
    print(f"ensemble.predict: {faces} faces, {len(members)} members ({sum(sizes):.1f} MB {dtype}), tta flip: {seconds:.1f} s", flush=True)
    return {"members": members, "dtype": dtype, "total_mb": sum(sizes), "faces": faces, "tta": "flip", "seconds": seconds}


SECTIONS = ["training", "compile", "inference", "tune_overhead", "trials_per_hour", "ensemble_predict"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=FACES15)
    parser.add_argument("--quick", action="store_true", help="batch 64 only, short windows, no trials-per-hour comparison")
    parser.add_argument("--overhead-epochs", type=int, default=6, help="epochs of the configuration timed with and without Tune")
    parser.add_argument("--overhead-repeats", type=int, default=4, help="runs each way (the median counts: run-to-run noise here is about 10 %%)")
    parser.add_argument("--ensemble", default="vgg_opt,vgg_opt,vgg_opt", help="member architectures of the 50 MB ensemble")
    parser.add_argument("--ensemble-dtype", choices=["fp32", "fp16"], default="fp16")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of the compile section (0 = every core; a search's trial gets 1)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=SECTIONS, help="what to measure (default all)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/speed.json"))
    args = parser.parse_args()
    run = set(args.sections) - ({"trials_per_hour"} if args.quick else set())

    gpu = torch.cuda.is_available()
    space = load_space(DEFAULT_SPACE if gpu else CPU_SPACE)
    batches = [64] if args.quick else sorted(next(p.values for p in space.params if p.name == "batch_size"))
    seconds = 1.0 if args.quick else 3.0
    report: dict = {}
    if "training" in run:
        report["training"] = training_speed(list_models(), batches, seconds)
    if "compile" in run:
        report["compile"] = compile_speed(space.architectures, 32, seconds, args.threads)
    if "inference" in run:
        report["inference"] = inference_speed(list_models(), seconds)
    with tempfile.TemporaryDirectory() as tmp:
        if run & {"tune_overhead", "trials_per_hour"}:
            import ray

            start_ray(None, None)  # as search.run starts it, before the clock: Ray's start-up is not a trial's cost
            if "tune_overhead" in run:
                report["tune_overhead"] = tune_overhead(args.data, 2 if args.quick else args.overhead_epochs, 1 if args.quick else args.overhead_repeats,
                                                        Path(tmp))
            if "trials_per_hour" in run:
                report["trials_per_hour"] = trials_per_hour(args.data, 2, Path(tmp))
            ray.shutdown()
        if "ensemble_predict" in run:
            report["ensemble_predict"] = ensemble_predict(args.data, args.ensemble.split(","), args.ensemble_dtype, 1783, Path(tmp))
    write_results("speed", args, report, args.out)


if __name__ == "__main__":
    main()
