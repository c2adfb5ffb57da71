"""`python -m ensemble.export --ensemble DIR [--format onnx|torchscript]`: an ensemble folder as one model
file that runs without kptune: a batch of 96x96 grey faces (uint8, (B, 96, 96)) in, their 30 keypoint
coordinates (float32, (B, 30) px, Kaggle's column order and the training labels' convention) out.

Everything `ensemble.predict` does is inside the graph: each member and its weight, flip TTA (the
mirrored face's answer mirrored back about the member's axis, left and right swapping names), each
member's bias taken off, and the answer clipped to the frame. ONNX needs the `onnx` extra
(pip install -e '.[onnx]'). The written file is checked against the ensemble (float32, CPU) on --check's
faces, or on random images.
"""

from __future__ import annotations

import argparse
import copy
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.cli import add_ensemble_arg
from common.errors import UserError, exits_on_bad_input
from common.files import write_atomically
from data.reader import load_faces
from data.transforms import denormalise_keypoints, frame_px, mirror_keypoints

from .ensemble import Ensemble
from .folder import is_ensemble
from .submission import clip_to_frame


class EnsembleGraph(nn.Module):
    """An Ensemble as one module of plain tensor operations, for tracing and export."""

    def __init__(self, ensemble: Ensemble, tta: bool):
        super().__init__()
        self.members = nn.ModuleList(copy.deepcopy(m).cpu().float().eval() for m in ensemble.models)
        self.weights = [float(w) for w in ensemble.weights]
        self.origins = [c.origin for c in ensemble.configs] if tta else None
        for i, bias in enumerate(ensemble.biases[tta]):
            self.register_buffer(f"bias{i}", torch.zeros(30) if bias is None else torch.from_numpy(bias))
        self.frame = frame_px(ensemble.origin)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.unsqueeze(1).float() / 255  # (B, 1, 96, 96) in [0, 1], as training.predict.as_input
        total = torch.zeros(images.shape[0], 30)
        for i, (member, weight) in enumerate(zip(self.members, self.weights)):
            prediction = denormalise_keypoints(member(x))  # (B, 30) px
            if self.origins is not None:
                mirrored = denormalise_keypoints(member(x.flip(-1)))
                prediction = (prediction + mirror_keypoints(mirrored, self.origins[i])) / 2
            total = total + weight * (prediction - getattr(self, f"bias{i}"))
        return total.clamp(*self.frame)


def export(ensemble: Ensemble, out: Path, fmt: str, tta: bool) -> Path:
    """Writes `ensemble` as one file at `out` (atomically): ONNX with a dynamic batch, or TorchScript."""
    graph = EnsembleGraph(ensemble, tta)
    example = torch.zeros(2, 96, 96, dtype=torch.uint8)
    with torch.inference_mode(False), torch.no_grad():
        if fmt == "torchscript":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the flip permutation is a constant, as it should be
                module = torch.jit.trace(graph, example)
            return write_atomically(out, lambda f: torch.jit.save(module, f), binary=True)
        program = torch.onnx.export(graph, (example,), input_names=["images"], output_names=["keypoints"],
                                    dynamic_shapes={"images": {0: torch.export.Dim("batch")}}, dynamo=True, verbose=False)
        return write_atomically(out, lambda f: f.write(program.model_proto.SerializeToString()), binary=True)


def load_exported(path: Path, fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """The written file as a function (B, 96, 96) uint8 -> (B, 30) px: in ONNX Runtime's CPU provider, or
    TorchScript's interpreter."""
    if fmt == "torchscript":
        module = torch.jit.load(str(path))

        def run(images: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(images)).numpy()

        return run
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda images: session.run(None, {"images": images})[0]


def disagreement(path: Path, fmt: str, ensemble: Ensemble, images: np.ndarray, tta: bool) -> float:
    """Largest |the file's answer - Ensemble.predict's, clipped as submissions are| (px) over `images`."""
    exported = load_exported(path, fmt)(images)
    return float(np.abs(exported - clip_to_frame(ensemble.predict(images, tta=tta), ensemble.origin)).max())


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m ensemble.export", description=__doc__.split("\n\n")[0])
    add_ensemble_arg(p, "the ensemble folder to export (ensemble.build, refit or distill wrote it)", required=True)
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    p.add_argument("--tta", choices=["none", "flip"], default="flip", help="flip (default): the mirrored face too, as ensemble.predict")
    p.add_argument("--check", type=Path, metavar="CSV", help="faces (any kptune CSV) to check the written file on (default: 64 random images)")
    p.add_argument("--out", type=Path, help="the file to write (default: beside the folder, FOLDER.onnx or FOLDER.pt)")
    args = p.parse_args(argv)
    if not is_ensemble(args.ensemble):
        raise UserError(str(args.ensemble), "not an ensemble folder (python -m ensemble.build writes one)")
    images = load_faces(args.check).images if args.check else np.random.default_rng(0).integers(0, 256, (64, 96, 96), dtype=np.uint8)
    ensemble = Ensemble(args.ensemble, device="cpu", amp="off")  # float32 on the CPU: what the file computes
    out = args.out or args.ensemble.with_name(args.ensemble.name + (".onnx" if args.format == "onnx" else ".pt"))
    tta = args.tta == "flip"
    export(ensemble, out, args.format, tta)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {len(ensemble.models)} members{', flip TTA' if tta else ''}, "
          f"uint8 (B, 96, 96) in, (B, 30) px out, the centre of pixel column c at x = c + {ensemble.origin:g}")
    try:
        diff = disagreement(out, args.format, ensemble, images, tta)
    except ImportError:
        print("not checked: ONNX Runtime is not installed (pip install -e '.[onnx]')")
        return
    runtime = "ONNX Runtime" if args.format == "onnx" else "TorchScript"
    print(f"{runtime} agrees with the ensemble within {diff:.4f} px on {len(images)} {'faces' if args.check else 'random images'}")


if __name__ == "__main__":
    main()
