"""Helpers shared by the benchmark scripts: data paths, tables, JSON results."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from newsqa.generate import PRECISIONS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def add_precision_option(parser) -> None:
    """``--precision``: how the generator runs on CPU (the library's ``cpu_precision``)."""
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="generator on CPU: auto (the library's default) is fp32 on every CPU; bf16 and int8 "
        "are faster and answer a little worse",
    )


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        if number == 0:
            print("  ".join("-" * w for w in widths))


def machine() -> dict:
    """Where a figure was measured: the CPU decides whether bf16 pays (AMX) or not."""
    info = Path("/proc/cpuinfo")
    names = re.findall(r"^model name\s*:\s*(.+)$", info.read_text(), re.M) if info.exists() else []
    from newsqa.generate import native_cpu_bf16

    return {
        "platform": platform.platform(),
        "cpu": names[0] if names else platform.processor(),
        "cpus": os.cpu_count(),
        "amx": native_cpu_bf16(),
    }


def write_result(name: str, payload: dict) -> Path:
    """Write ``benchmarks/results/NAME.json`` atomically, with when and where it was measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": machine(),
        **payload,
    }
    target = RESULTS / f"{name}.json"
    temp = target.with_suffix(".json.tmp")
    temp.write_text(json.dumps(payload, indent=2) + "\n")
    temp.replace(target)
    return target


def checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that runs ``checkout``'s code (a baseline) on its own model files, with
    the default settings (no ``NEWSQA_`` variables).

    ``PYTHONPATH`` puts its ``newsqa`` first, but an editable install of this checkout still
    answers for ``newsqa.bundled_model`` when the checkout's package has no such folder, so the
    older code would read today's weights and calibration; such a checkout is refused with the
    one command that fixes it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}  # defaults
    env |= {"PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1"}
    found = subprocess.run(
        [sys.executable, "-c", "from newsqa.generate import bundled_model_path as p; print(p())"],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(checkout.resolve()):
        raise SystemExit(
            f"{checkout}'s code reads the model in {found}: give it its own with "
            f"ln -s ../models/newsqa-mini {checkout}/newsqa/bundled_model"
        )
    return env
