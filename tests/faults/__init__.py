"""Fault suite (issue 10): one test per case. A package, so its modules may share basenames with tests/."""
