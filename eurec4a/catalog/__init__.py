"""The intake catalog layer: YAML catalogs, entries, parameters, data sources, the tree."""
