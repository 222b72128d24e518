"""Reports: HTML pages and PNG plots built from result objects."""
