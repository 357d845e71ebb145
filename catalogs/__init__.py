"""Demo catalogs and their synthetic datasets (see catalogs/README.md); not part of the installed package."""
