"""Feed adapters: payload parsers and transports, registered by name.

Importing the package registers the built-in parsers.
"""

from feeds import csv_table, json_mapping, native, ngsi_ld, openmeteo, senml  # noqa: F401
