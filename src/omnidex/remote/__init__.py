"""The remote client: ``omnidex.Client(url, api_key)`` works against an omnidex server with the
methods and types of the embedded API (``omnidex.connect(path)``); the REST API is its wire form.

:mod:`omnidex.remote.client` has the client, :mod:`omnidex.remote.collection` a collection and
the list of what differs from embedded, :mod:`omnidex.remote.errors` how error answers become
:mod:`omnidex.errors` exceptions again.
"""

from omnidex.remote.client import Client, RemoteRetriever
from omnidex.remote.collection import RemoteCollection
from omnidex.remote.errors import ServerUnreachableError

__all__ = ["Client", "RemoteCollection", "RemoteRetriever", "ServerUnreachableError"]
