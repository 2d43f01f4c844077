"""The Azure ML retraining pipeline: component scripts (``components/``), the library they share
(``training/``), the DSL definition (``definition.py``) and the component environments
(``environments/``). ``llmops pipeline build`` writes and validates it offline; ``llmops pipeline
run-local`` runs the same component scripts end to end on a tiny model created in code."""
