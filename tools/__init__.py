"""Developer scripts run from the checkout (`python -m tools.NAME`); not shipped."""
