"""PoseAtlas analysis: COCO-format keypoint datasets -> parquet caches.

Pure computation; never imports streamlit.
"""

__version__ = "0.1.0"
