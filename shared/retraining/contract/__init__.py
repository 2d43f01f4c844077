"""The contract between the platform and the training pipeline: what ``pipelines/`` may import.

- ``examples``: the training example format (chat messages), reading and writing snapshots;
- ``metrics``: offline metrics (ROUGE-L, token F1, exact match, percentiles);
- ``report``: the evaluation report the evaluate step writes and the gate reads;
- ``gate``: the evaluation gate's thresholds and decision;
- ``registry``: the model registry ports (Azure ML, local);
- ``runs``: training requests, run records and the ``TrainingRunner`` port the runners implement.

These modules import only each other, the standard library and pydantic at run time (the platform's
settings type only for the type checker), because the components run in Azure ML from a code
snapshot that holds ``pipelines/`` and this package alone (``pipelines/code.py``);
``tests/unit/test_retraining_boundary.py`` holds that line.
"""
