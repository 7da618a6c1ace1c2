"""Feed adapters: payload parsers and transports, registered by name.

Importing the package registers the built-in parsers.
"""

from feeds import native, openmeteo  # noqa: F401
