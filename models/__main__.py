"""`python -m models`: every registered architecture with its parameter count and size as saved."""

import torch

from . import create_model, keras_param_count, list_models, saved_size_bytes


def main() -> None:
    print(f"{'architecture':<14} {'parameters':>12} {'MB (fp32)':>10} {'MB (fp16)':>10}")
    for name in list_models():
        model = create_model(name)
        fp32, fp16 = saved_size_bytes(model), saved_size_bytes(model, dtype=torch.float16)
        print(f"{name:<14} {keras_param_count(model):>12,} {fp32 / 1e6:>10.1f} {fp16 / 1e6:>10.1f}")
    print("parameters as Keras counts them (BatchNorm running statistics included); MB = 10^6 bytes as torch.save writes the weights")


if __name__ == "__main__":
    main()
