"""The training runners: how the platform gets the pipeline run (``shared.retraining.contract.runs.TrainingRunner``).

``azureml.AzureMLTrainingRunner`` builds the pipeline (``pipelines.definition``) and submits it to Azure
ML; ``local.LocalTrainingRunner`` runs the same component scripts in subprocesses on this machine. They
live beside the pipeline they run, are platform code (not part of the components' code snapshot), and
are chosen in the composition root (``shared.runtime.build_training_runner``).
"""
