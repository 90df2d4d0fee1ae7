"""``python -m analysis subset``: write scale-ablation subsets of a built split.

Writes ``OUT/subset-1.json`` ... ``OUT/subset-K.json`` (every record of a kept image
copied byte for byte from the annotation file the cache was built from) and
``OUT/report.json``.  Every check runs before the first byte is written; the files
are written to temporary names and renamed into place together at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from analysis.cache import contract as cache
from analysis.cache.split import check_unchanged, open_cached_split
from analysis.cache.staged_files import StagedFiles
from analysis.datasets.raw_coco import read_raw_coco, write_subset
from analysis.datasets.sampling import (
    MAX_BINS,
    MIN_BINS,
    PERSON_TOLERANCE,
    PERSONS_PER_BIN,
    DrawnSubset,
    SamplingMethod,
    SubsetSpec,
    draw_subsets,
)
from analysis.datasets.split_images import SplitImages, read_split_images
from analysis.definitions import AreaSource, PersonPopulation
from analysis.output_paths import ProtectedInputs, check_output_dir
from analysis.report_paths import report_path

REPORT_FILE = "report.json"

ALGORITHM = (
    "whole images; persons = the non-crowd person annotations of the population; equal-count area bins of the split "
    f"(B = clip(N // {PERSONS_PER_BIN}, {MIN_BINS}, {MAX_BINS})) with quotas N * share; images visited in a seeded "
    "random order and "
    "kept while their persons fit the quotas, then the gap closed and equal-size swaps applied to "
    "minimise the cumulative shortfall; images without persons kept at the rate N / P. "
    "random = plain random image sampling: the prefix of the same seeded order closest to N persons; "
    "it is the subset instead (method = random) when it is within the tolerance and matches better"
)
KS_DEFINITION = "two-sample Kolmogorov-Smirnov statistic of the person area distribution, subset vs full split"


def subset_file_name(k: int) -> str:
    """``subset-k.json`` (1-based; other tools rely on this naming)."""
    return f"subset-{k}.json"


@dataclass(frozen=True)
class SubsetJob:
    """One ``subset`` command."""

    key: cache.CacheKey
    spec: SubsetSpec
    out_dir: Path
    cache_root: Path = cache.DEFAULT_CACHE_DIR
    area_source: AreaSource = AreaSource.BBOX
    #: who counts as a person (the count N, the area distribution); default: stored num_keypoints > 0
    population: PersonPopulation = PersonPopulation()
    registry: Path | None = None  #: its annotation files are protected from ``out_dir``'s files

    def output_names(self) -> list[str]:
        """The files written under ``out_dir``."""
        return [subset_file_name(k) for k in range(1, self.spec.count + 1)] + [REPORT_FILE]

    def check_outputs(self) -> None:
        """Refuse an ``out_dir`` whose files would replace an input (the split's own source
        included) or land in the cache root; before any work.  The files of this request's
        own subsets (``NAME-subset-k``, from an earlier run) may be written again."""
        own = [f"{self.key.dataset}-subset-{k}/{self.key.split}" for k in range(1, self.spec.count + 1)]
        protected = ProtectedInputs.gather(self.cache_root, self.registry).except_sources_of(own)
        check_output_dir(self.out_dir, self.output_names(), protected, "--out")


class RandomSample(msgspec.Struct):
    """Plain random image sampling with the subset's seed (the comparison)."""

    images: int
    persons: int
    ks: float


class SubsetRow(msgspec.Struct):
    file: str
    seed: int
    images: int
    persons: int
    ks: float  #: rounded to 6 decimals
    method: SamplingMethod
    random: RandomSample
    populations: dict[str, dict[str, int]]  #: counts under every population (``INFO_POPULATIONS``)


class AnnotationFile(msgspec.Struct):
    path: str  #: relative to the registry's folder (``report_paths``)
    sha256: str | None


class FullSplit(msgspec.Struct):
    images: int
    persons: int
    #: Counts under every population (S/M/L by the area source, default edges).
    populations: dict[str, dict[str, int]]


class SubsetReport(msgspec.Struct, kw_only=True):
    """``report.json`` of ``subset`` (and what ``make_subsets`` returns)."""

    dataset: str
    split: str
    annotations: AnnotationFile
    area_source: AreaSource
    population: str
    population_definition: str
    requested: SubsetSpec
    person_tolerance: float = PERSON_TOLERANCE
    full_split: FullSplit
    ks_definition: str = KS_DEFINITION
    algorithm: str = ALGORITHM
    subsets: list[SubsetRow]


def make_subsets(job: SubsetJob, progress: bool = True) -> SubsetReport:
    """Draw and write the subsets; return the report (also written as ``report.json``).

    Raises:
        PoseAtlasError: the split is not built, its annotation file changed, the request
            cannot be met; nothing is written then.
    """
    job.check_outputs()
    split = open_cached_split(job.cache_root, job.key)
    check_unchanged(split)
    images = read_split_images(job.cache_root, job.key, job.area_source, job.population)
    subsets = draw_subsets(images.persons, job.spec)
    raw = read_raw_coco(split.annotations)
    counts = partial(_population_counts, images)
    report = SubsetReport(
        dataset=job.key.dataset,
        split=job.key.split,
        annotations=AnnotationFile(report_path(split.annotations, job.registry), split.fingerprint.sha256),
        area_source=job.area_source,
        population=str(job.population),
        population_definition=job.population.description,
        requested=job.spec,
        full_split=FullSplit(len(images.image_ids), images.persons.n_persons, counts(np.arange(len(images.image_ids)))),
        subsets=[_row(k, subset, counts(subset.image_rows)) for k, subset in enumerate(subsets, start=1)],
    )
    with StagedFiles(job.out_dir) as staged:
        bar = tqdm(subsets, desc="subsets", unit="file", disable=None if progress else True)
        for k, subset in enumerate(bar, start=1):
            kept_ids = images.image_ids[subset.image_rows]
            staged.add(subset_file_name(k), partial(write_subset, raw, kept_ids))
        text = msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"
        staged.add(REPORT_FILE, lambda fh: fh.write(text))
    return report


def _population_counts(images: SplitImages, image_rows: npt.NDArray[np.int64]) -> dict[str, dict[str, int]]:
    """Persons and S/M/L of ``image_rows``' instances under every population."""
    return images.population_counts(np.isin(images.instance_image, image_rows))


def _row(k: int, subset: DrawnSubset, populations: dict[str, dict[str, int]]) -> SubsetRow:
    return SubsetRow(
        file=subset_file_name(k),
        seed=subset.seed,
        images=len(subset.image_rows),
        persons=subset.persons,
        ks=round(subset.ks, 6),
        method=subset.method,
        random=RandomSample(len(subset.random_image_rows), subset.random_persons, round(subset.random_ks, 6)),
        populations=populations,
    )


def subset_table(report: SubsetReport) -> list[str]:
    """The printed table: per subset its seed, images, persons and KS beside plain random sampling's."""
    full = report.full_split
    lines = [
        f"{report.dataset}/{report.split}: {full.images} images, {full.persons} persons; "
        f"area source {report.area_source}; {report.population_definition}",
        f"{'file':<16}{'seed':>8}{'images':>9}{'persons':>9}{'KS':>9}  {'method':<8}"
        f"{'random: images':>14}{'persons':>9}{'KS':>9}",
    ]
    for row in report.subsets:
        rnd = row.random
        lines.append(
            f"{row.file:<16}{row.seed:>8}{row.images:>9}{row.persons:>9}{row.ks:>9.4f}  "
            f"{row.method:<8}"
            f"{rnd.images:>14}{rnd.persons:>9}{rnd.ks:>9.4f}"
        )
    lines.append(
        "KS: two-sample Kolmogorov-Smirnov distance of person areas to the full split's; "
        "random = plain random image sampling with the same seed; method: quotas, or random "
        f"when that sample was within {PERSON_TOLERANCE * 100:g} % of N and matched better"
    )
    return lines
