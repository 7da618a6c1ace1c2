"""Threshold alerts: rules (rules.py), the pure lifecycle (engine.py), the running service (service.py)
and notifications (notify.py)."""
