"""The datasets wing: new datasets made from built splits (subset, compose, convert)."""
