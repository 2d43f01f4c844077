"""evaluate: the candidate (base model + new adapter) vs the production model on the validation
split and the fixed regression set.

Production is the base model with the production adapter, or the base model alone when there is
none yet (the first candidate), or any OpenAI-compatible endpoint (``--production-endpoint``).
Output folder: ``evaluation_report.json`` (``shared.retraining.contract.report.EvaluationReport``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pipelines.components.prepare import VALIDATION_FILE
from pipelines.components.spec import EVALUATE

REPORT_FILE = "evaluation_report.json"


def main(argv: Sequence[str] | None = None) -> int:
    args = EVALUATE.parse_args(argv)
    import torch

    from pipelines.training.evaluation import TokenPrice, evaluate_suite
    from pipelines.training.generation import LocalModelGenerator, OpenAIChatGenerator, openai_client
    from pipelines.training.judge import LlmJudge
    from pipelines.training.modeling import load_for_inference, load_tokenizer
    from pipelines.training.output_checks import load_output_check
    from shared.retraining.contract.examples import read_examples
    from shared.retraining.contract.report import EvaluationReport, SuiteComparison

    if bool(args.production_endpoint) != bool(args.production_model):
        print("evaluate: --production-endpoint and --production-model go together", file=sys.stderr)
        return 1
    suites = {"validation": read_examples(args.dataset / VALIDATION_FILE)}
    if args.regression_set is not None:
        suites["regression"] = read_examples(args.regression_set)
    if args.max_examples > 0:
        suites = {name: examples[: args.max_examples] for name, examples in suites.items()}

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    adapters = {"candidate": args.adapter}
    if args.production_adapter is not None:
        adapters["production"] = args.production_adapter
    model = load_for_inference(args.base_model, adapters, device=device, dtype=dtype)
    tokenizer = load_tokenizer(str(args.adapter))
    candidate = LocalModelGenerator(
        model,
        tokenizer,
        name="candidate",
        adapter="candidate",
        device=device,
        max_new_tokens=args.max_new_tokens,
    )
    if args.production_endpoint:
        client = openai_client(args.production_endpoint, api_version=args.api_version)
        production = OpenAIChatGenerator(client, model=args.production_model, max_tokens=args.max_new_tokens)
        production_name = f"{args.production_model} at {args.production_endpoint}"
    else:
        adapter = "production" if args.production_adapter is not None else None
        production = LocalModelGenerator(
            model,
            tokenizer,
            name="production",
            adapter=adapter,
            device=device,
            max_new_tokens=args.max_new_tokens,
        )
        production_name = f"{args.base_model} + {args.production_adapter}" if adapter else args.base_model
    judge = None
    if args.judge_endpoint and args.judge_model:
        judge = LlmJudge(
            openai_client(args.judge_endpoint, api_version=args.api_version), model=args.judge_model
        )
    check = load_output_check(args.guardrails)
    candidate_price = TokenPrice(args.candidate_price_input_per_1k, args.candidate_price_output_per_1k)
    production_price = TokenPrice(args.production_price_input_per_1k, args.production_price_output_per_1k)

    comparisons = {}
    for suite, examples in suites.items():
        if not examples:
            continue
        comparisons[suite] = SuiteComparison(
            candidate=evaluate_suite(candidate, examples, check=check, price=candidate_price, judge=judge),
            production=evaluate_suite(production, examples, check=check, price=production_price, judge=judge),
        )
        c, p = comparisons[suite].candidate, comparisons[suite].production
        print(
            f"evaluate: {suite}: candidate {c.metrics} p95 {c.p95_latency_ms:.1f} ms | "
            f"production {p.metrics} p95 {p.p95_latency_ms:.1f} ms"
        )
    report = EvaluationReport(
        candidate_model=f"{args.base_model} + {args.adapter.name}",
        production_model=production_name,
        suites=comparisons,
        judge_model=args.judge_model if judge else None,
        notes=[f"device: {device}", f"guardrails: {args.guardrails}"],
    )
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / REPORT_FILE).write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
