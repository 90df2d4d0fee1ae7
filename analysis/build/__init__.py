"""The build wing: a COCO-format annotation file -> the cached tables of one split."""
