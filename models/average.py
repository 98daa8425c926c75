"""Average the weights of two fine-tuned newsqa-mini runs (a "model soup", Wortsman et al. 2022).

    python -m models.average models/newsqa-mini models/runs/newsqa-mini-run8 \
        --weight 0.5 --output models/runs/newsqa-mini-soup

Both runs must come from the same start (one resumed from the other's weights), so their
parameters lie in one basin and the average reads like either. The output folder holds the
averaged ``model.safetensors`` (in the first model's dtype) beside the first model's config and
tokenizer; its calibrator has to be fitted anew (``benchmarks/calibrate.py``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"
COPIED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")


def average(first: Path, second: Path, weight: float, output: Path) -> None:
    """Write ``(1 - weight) * first + weight * second`` to ``output``."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], not {weight}")
    a, b = load_file(first / WEIGHTS), load_file(second / WEIGHTS)
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError(f"{first} and {second} are not the same architecture")
    mixed = {
        name: ((1 - weight) * a[name].float() + weight * b[name].float()).to(a[name].dtype)
        if a[name].is_floating_point()
        else a[name]
        for name in a
    }
    output.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (first / name).exists():
            shutil.copy2(first / name, output / name)
    save_file(mixed, output / WEIGHTS, metadata={"format": "pt"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path, help="model folder (its config and tokenizer are kept)")
    parser.add_argument("second", type=Path, help="model folder of the same architecture")
    parser.add_argument("--weight", type=float, default=0.5, help="the second model's share")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    average(args.first, args.second, args.weight, args.output)
    print(f"wrote {args.output / WEIGHTS}")


if __name__ == "__main__":
    main()
