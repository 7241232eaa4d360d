"""The ``omnidex`` command: one module per command group, all built on the public API."""
