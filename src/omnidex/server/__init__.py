"""The REST server: FastAPI app, routes, API-key auth and rate limits; serves the Studio."""
