"""The Pulumi program that provisions the whole platform (see README.md in this folder).

Importing this package needs neither Azure credentials nor the Pulumi CLI; ``__main__.py`` is the
program entry the Pulumi CLI runs.
"""
