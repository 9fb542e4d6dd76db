"""The figures the reliability and hub tests record are printed by ``tests/figures_report.py``
(a plugin of the root conftest, so that it also runs in pytest-xdist's controller)."""
