"""Speed and memory benchmarks of PoseAtlas at scale, printed as ratios against baselines."""
