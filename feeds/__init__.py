"""Plugins: the payload parsers (registered by name as their modules load) and the simulator's model.

Only the composition root (ioc.runtime.register_plugins) imports this package; the transports live in
ioc/transports/.
"""

from feeds import csv_table, json_mapping, native, ngsi_ld, openmeteo, senml  # noqa: F401
