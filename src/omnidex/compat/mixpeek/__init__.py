"""A Mixpeek-compatible API over omnidex, so the official ``mixpeek`` SDK runs its core flow
against a self-hosted server: namespaces, buckets and objects, collections with a feature
extractor, batches and tasks, retrievers, documents (docs/mixpeek.md has the full table).

It lives apart from the core: it calls omnidex's public API and the server's auth, queue and
uploads, and keeps what Mixpeek has and omnidex lacks (buckets, batches) in its own store.
"""
