"""The routes of the Mixpeek layer, one module per Mixpeek resource."""
