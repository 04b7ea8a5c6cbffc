"""The seeded PHI canary: a value no log line of a test run may ever contain.

Tests that handle patient data use these values; ``tests/conftest.py`` scans
every log the run produced (ours, Synapse's, subprocesses') at the end and
fails the run if any of them appears.
"""

CANARY_NAME = "Zebulon Canarywood"
CANARY_MRN = "CNRY-99812"
CANARY_VALUES = (CANARY_NAME, CANARY_MRN)
