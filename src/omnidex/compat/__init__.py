"""Compatibility layers: other platforms' APIs served over omnidex's own, one package each.

Each translates its platform's requests into omnidex's public API (:mod:`omnidex.embedded` and the
server's auth, queue and uploads) and its answers back; nothing below learns their names.
"""
