"""The built-in retrieval stages, one module per family; each registers under its ``type``."""
