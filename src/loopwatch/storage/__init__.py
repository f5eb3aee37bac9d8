"""Where rows and state live: the Parquet + DuckDB store, ingest, quarantine."""
