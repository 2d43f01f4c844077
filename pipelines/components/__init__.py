"""The pipeline's steps, each a script run as ``python -m pipelines.components.<step>`` (in an Azure
ML command job, or by the local runner), with its interface declared once in ``spec.py``."""
