"""The cache wing: the parquet cache contract, manifests, fingerprints and the split adapter."""
