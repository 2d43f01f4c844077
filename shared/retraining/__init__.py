"""The retraining loop's core: training examples, offline metrics, the evaluation gate, run records,
and the ports (with Azure ML and local adapters) that train, register and serve a candidate model.

Modules are imported directly (``from shared.retraining.gate import decide``); this package imports
nothing on its own, so the pipeline's component scripts can use the pure modules (``examples``,
``metrics``, ``gate``, ``registry``) without the platform's settings, store or Azure SDKs, and the
Function App never pays for ``azure-ai-ml`` or ``torch`` unless a retraining adapter is used.
"""
