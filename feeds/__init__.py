"""Feed adapters: payload parsers and sources, registered by name.

Importing the package registers the built-in parsers.
"""

from feeds import native  # noqa: F401
