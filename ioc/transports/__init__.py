"""Transports: how a feed's bytes arrive (MQTT, HTTP poll, HTTP push, the simulator's publishing),
and the feed contract every parser implements (`contract`)."""
