"""Scene complexity: Places365 scene entropy over a dataset's images.

Modules, one concept each:

- :mod:`~analysis.scenes.labels`: the 365 category names and indoor/outdoor flags.
- :mod:`~analysis.scenes.checkpoint`: CSAIL checkpoints, loaded weights-only.
- :mod:`~analysis.scenes.entropy`: entropy and per-image statistics (numpy).
- :mod:`~analysis.scenes.aggregates`: dataset-level figures from scenes.parquet
  (what the dashboard uses).
- :mod:`~analysis.scenes.pipeline`: decoding, official preprocessing, local inference.
- :mod:`~analysis.scenes.ray_backend`: the same on a Ray cluster (optional).
- :mod:`~analysis.scenes.runner`: resumable run over a cached split.
- :mod:`~analysis.scenes.fetch`: downloading the official files.
- :mod:`~analysis.scenes.cli`: argparse adapters for the top-level CLI.

Importing this package imports nothing heavy (no torch, no pandas): the CLI
builds its parsers from :mod:`~analysis.scenes.cli` and
:mod:`~analysis.scenes.options`; import the submodules you use.
"""
