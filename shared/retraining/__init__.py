"""The retraining loop, platform side: the retraining service and coordinator, run records, dataset
snapshots, serving a registered candidate.

Its boundary with the training pipeline (``pipelines/``) is ``shared.retraining.contract``: the pure
modules both sides share (training examples, offline metrics, the evaluation report and gate, the
model registry, run requests and records, the ``TrainingRunner`` port). The pipeline's component
scripts import nothing else of ``shared`` (they run in Azure ML from a code snapshot of ``pipelines/``
and the contract alone); the runners that submit or run the pipeline live beside it
(``pipelines/runners``) and are chosen in the composition root (``shared.runtime``).

Modules are imported directly; this package imports nothing on its own, so the Function App never
pays for ``azure-ai-ml`` or ``torch`` unless a retraining adapter is used.
"""
