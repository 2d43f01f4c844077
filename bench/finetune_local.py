"""Benchmark: the fine-tune component on the tiny CPU model (time, loss curve), and where CUDA is
available the same component on a real small open model, LoRA vs QLoRA (tokens/s, peak GPU memory).

    .venv/bin/python bench/finetune_local.py [--steps 120] [--threads 1,2] [--gpu-model HUB_ID]

Runs the real component scripts (``python -m pipelines.components.finetune``) in subprocesses, as
the local runner and Azure ML do, side by side in one run; writes bench/results/finetune_local.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.code import stage_component_code  # noqa: E402
from pipelines.components.spec import FINETUNE, PREPARE  # noqa: E402
from pipelines.parameters import PipelineParameters  # noqa: E402
from pipelines.training.sample_data import synthetic_examples  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.retraining.contract.examples import write_examples  # noqa: E402


def run(argv: list[str], code: Path, threads: int) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "OMP_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
    }
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *argv], cwd=code, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:2])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def finetune(params: PipelineParameters, dataset: Path, out: Path, code: Path, threads: int) -> dict:
    wall = run(
        FINETUNE.argv({**params.values_for(FINETUNE), "dataset": dataset}, {"adapter": out}), code, threads
    )
    metrics = json.loads((out / "training_metrics.json").read_text())
    return {"process_seconds": round(wall, 2), **metrics}


def summary(label: str, m: dict) -> str:
    memory = f", peak GPU {m['peak_gpu_memory_gb']:.2f} GiB" if m.get("peak_gpu_memory_gb") else ""
    return (
        f"{label:28} {m['steps']} steps in {m['seconds']:.2f} s (process {m['process_seconds']:.1f} s), "
        f"{m['tokens_per_second']:,.0f} tokens/s, loss {m['first_loss']:.3f} -> {m['final_loss']:.3f}, "
        f"validation loss {m['eval_loss_before']:.3f} -> {m['eval_loss_after']:.3f}{memory}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--examples", type=int, default=240)
    parser.add_argument("--threads", default="1,2", help="CPU math threads to compare for the tiny model")
    parser.add_argument(
        "--gpu-model", default="Qwen/Qwen2.5-0.5B-Instruct", help="hub id for the GPU comparison"
    )
    parser.add_argument("--gpu-steps", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "finetune_local.json")
    args = parser.parse_args()
    from shared.extras import MissingExtra, require_extra

    try:
        require_extra("train-deps", "bench/finetune_local.py")
    except MissingExtra as exc:
        print(exc, file=sys.stderr)
        return 2
    import torch

    results: dict = {
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "cpu_count": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as tmp:
        work = Path(tmp)
        code = stage_component_code(work / "code")
        snapshot, dataset = work / "snapshot.jsonl", work / "dataset"
        write_examples(snapshot, synthetic_examples(args.examples))
        run(PREPARE.argv({"snapshot": snapshot}, {"dataset": dataset}), code, 1)
        run(
            ["-m", "pipelines.training.tiny_model", "--snapshot", str(snapshot), "--out", str(work / "tiny")],
            code,
            1,
        )
        tiny = PipelineParameters.from_settings(Settings()).for_tiny_model(str(work / "tiny"))
        tiny = tiny.model_copy(update={"max_steps": args.steps})
        results["tiny"] = {}
        for threads in (int(t) for t in args.threads.split(",")):
            metrics = finetune(tiny, dataset, work / f"tiny-{threads}", code, threads)
            results["tiny"][f"threads={threads}"] = metrics
            print(summary(f"tiny LoRA, {threads} thread(s)", metrics))
        first = next(iter(results["tiny"].values()))
        curve = first["loss_curve"]
        print(
            "loss curve (step: loss):",
            ", ".join(f"{s}: {loss:.2f}" for s, loss in curve[:: max(1, len(curve) // 12)]),
        )

        if not torch.cuda.is_available():
            print(
                "CUDA is not available here: skipped the real-model LoRA vs QLoRA comparison "
                f"({args.gpu_model}); run this script on a GPU machine for it."
            )
        else:
            results["gpu"] = {"device": torch.cuda.get_device_name(0), "model": args.gpu_model}
            real = PipelineParameters.from_settings(Settings(), base_model=args.gpu_model).model_copy(
                update={
                    "max_steps": args.gpu_steps,
                    "epochs": 0.0,
                    "batch_size": 8,
                    "gradient_accumulation": 1,
                    "max_length": 512,
                }
            )
            for method in ("lora", "qlora"):
                metrics = finetune(
                    real.model_copy(update={"method": method}), dataset, work / method, code, 4
                )
                results["gpu"][method] = metrics
                print(summary(f"{args.gpu_model} {method}", metrics))
            lora, qlora = results["gpu"]["lora"], results["gpu"]["qlora"]
            print(
                f"QLoRA / LoRA: throughput x{qlora['tokens_per_second'] / lora['tokens_per_second']:.2f}, "
                f"peak memory x{qlora['peak_gpu_memory_gb'] / lora['peak_gpu_memory_gb']:.2f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
