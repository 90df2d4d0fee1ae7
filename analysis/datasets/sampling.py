"""Scale-ablation subsets: whole images drawn so that the person-area distribution stays the split's.

A subset holds about ``N`` persons (non-crowd person annotations) and never splits an
image.  Plain random image sampling matches the split's area distribution only up to
sampling noise (a two-sample KS distance of ~0.027 at half of CrowdPose val); the
sampler here fills *quotas* instead:

1. **Bins.**  The split's persons are ranked by area (ties in the cache's order) and cut
   into ``B`` bins of equal person count, ``B = clip(N // 40, 10, 100)``.
2. **Quotas.**  Bin ``b`` may take ``T_b`` persons: ``N`` times its share of the split,
   rounded by largest remainder so that the quotas sum to ``N`` exactly.
3. **Quota pass.**  Images with persons are visited in a seeded random order (the same
   order the plain random baseline takes its prefix from), in blocks of 256.  An image
   is kept when its persons fit the room its bins have left, counted together with
   every earlier image of its block that fits on its own (a conservative, vectorised
   form of "keep it if it still fits").  The total never exceeds ``N``.
4. **Closing the gap.**  Some bins stay short (their persons sit in images whose other
   persons no longer fit).  With ``c`` the cumulative shortfall at the bins' upper edges
   (what the KS distance sees), the images that most reduce ``|c|^2`` are added, in
   batches, never passing ``N``.
5. **Swaps.**  A kept image is swapped for an equally large one while that reduces
   ``|c|^2``, until ``max |c|`` is within 0.1 % of ``N`` (or 400 swaps).  The total
   must end within the tolerance (0.5 % of ``N``, rounded down), else the request is
   refused.
6. **Images without persons** are kept at the subset's rate ``N / P`` (seeded), so a
   subset keeps the split's share of empty images.
7. **Never worse than random.**  When the plain random sample of the same seed (the
   prefix of the same image order whose person total is closest to ``N``) is within
   the tolerance and has the smaller KS distance (it happens when ``N`` is close to
   the split's size), it is the subset (``method = random`` in the report).

When every bin is at its quota, the subset's area CDF equals the split's at every bin
edge, and between edges it can differ by at most one bin's share (``1 / B``) times the
within-bin mismatch; the measured KS distance is reported beside plain random sampling's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analysis.errors import PoseAtlasError

#: The person count of a subset may differ from the requested one by this share.
PERSON_TOLERANCE = 0.005
MIN_BINS, MAX_BINS, PERSONS_PER_BIN = 10, 100, 40
BLOCK_IMAGES = 256
MAX_SWAPS = 400
POLISH_TARGET = 0.001
#: At most this many subsets per request: each is a full annotation file, and
#: distinct subsets of one split run out long before (a request is refused up front).
MAX_SUBSETS = 1000
#: Seeds are numpy SeedSequence entropy: non-negative and below 2^64.
SEED_LIMIT = 2**64


@dataclass(frozen=True)
class SubsetSpec:
    """What to draw: ``count`` subsets of ``persons`` persons each; subset k uses seed ``seed + k - 1``."""

    persons: int
    count: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise PoseAtlasError(f"--count must be at least 1 (got {self.count})")
        if self.count > MAX_SUBSETS:
            raise PoseAtlasError(f"--count must be at most {MAX_SUBSETS} (got {self.count})")
        if self.persons < 1:
            raise PoseAtlasError(f"--persons must be at least 1 (got {self.persons})")
        if self.seed < 0 or self.seed + self.count - 1 >= SEED_LIMIT:
            raise PoseAtlasError(f"--seed must be in [0, 2^64 - --count] (got {self.seed}; subset k uses seed + k - 1)")

    def subset_seed(self, k: int) -> int:
        """The seed of subset ``k`` (1-based)."""
        return self.seed + k - 1


@dataclass(frozen=True)
class SplitPersons:
    """The per-image and per-person arrays the sampler needs.

    Attributes:
        image_persons: (M,) non-crowd persons per image.
        person_image: (P,) image row (into ``image_persons``) of each person.
        person_area: (P,) area of each person (finite).
    """

    image_persons: npt.NDArray[np.int64]
    person_image: npt.NDArray[np.int64]
    person_area: npt.NDArray[np.float64]

    @property
    def n_persons(self) -> int:
        return len(self.person_area)


class SamplingMethod(enum.StrEnum):
    """How a subset was drawn."""

    QUOTAS = "quotas"  #: the quota sampler (steps 1-5)
    RANDOM = "random"  #: the plain random sample of the same seed, when it matched better


@dataclass(frozen=True)
class DrawnSubset:
    """One subset: its kept image rows, the same seed's plain random sample, and their KS distances."""

    seed: int
    image_rows: npt.NDArray[np.int64]  #: (m,) sorted rows into the split's images
    persons: int
    ks: float
    method: SamplingMethod
    random_image_rows: npt.NDArray[np.int64]
    random_persons: int
    random_ks: float


def ks_distance(sample: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: max over x of |F_sample(x) - F_reference(x)|.

    Args:
        sample: (n,) values.
        reference: (m,) values.

    Returns:
        The largest absolute difference of the two empirical CDFs (right-continuous),
        evaluated at every value of either sample; 0.0 when either is empty.
    """
    a = np.sort(np.asarray(sample, dtype=np.float64))
    b = np.sort(np.asarray(reference, dtype=np.float64))
    if len(a) == 0 or len(b) == 0:
        return 0.0
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def person_tolerance(persons: int) -> int:
    """How far a subset's person count may be from ``persons`` (0.5 %, rounded down)."""
    return int(np.floor(PERSON_TOLERANCE * persons))


def draw_subsets(split: SplitPersons, spec: SubsetSpec) -> list[DrawnSubset]:
    """Draw ``spec.count`` distinct subsets of whole images (see the module docstring).

    Raises:
        PoseAtlasError: more persons asked for than the split has, no subset of whole
            images within the tolerance, or two subsets that come out identical.
    """
    total = split.n_persons
    if spec.persons > total:
        raise PoseAtlasError(f"--persons {spec.persons} is more than the split's {total} persons")
    prepared = _Prepared.of(split, spec.persons)
    subsets = [_draw_one(split, prepared, spec.persons, spec.subset_seed(k)) for k in range(1, spec.count + 1)]
    seen: dict[bytes, int] = {}
    for k, subset in enumerate(subsets, start=1):
        first = seen.setdefault(subset.image_rows.tobytes(), k)
        if first != k:
            raise PoseAtlasError(
                f"subsets {first} and {k} came out identical: {spec.persons} of {total} persons leave "
                "too little room for distinct subsets (ask for fewer persons or fewer subsets)"
            )
    return subsets


@dataclass(frozen=True)
class _Prepared:
    """What every subset of one request shares: bins, quotas, per-image bin counts, sorted areas."""

    quotas: npt.NDArray[np.int64]  #: (B,)
    counts: npt.NDArray[np.int32]  #: (M, B) persons of each image in each bin
    sorted_area: npt.NDArray[np.float64]  #: (P,)
    area_cdf: npt.NDArray[np.float64]  #: (P,) the split's CDF at each sorted area

    @classmethod
    def of(cls, split: SplitPersons, persons: int) -> _Prepared:
        n_bins = min(int(np.clip(persons // PERSONS_PER_BIN, MIN_BINS, MAX_BINS)), split.n_persons)
        order = np.argsort(split.person_area, kind="stable")  # ties keep the cache's person order
        bins = np.empty(split.n_persons, dtype=np.int64)
        bins[order] = np.arange(split.n_persons) * n_bins // split.n_persons
        n_images = len(split.image_persons)
        flat = np.bincount(split.person_image * n_bins + bins, minlength=n_images * n_bins)
        sorted_area = split.person_area[order]
        return cls(
            quotas=_quotas(np.bincount(bins, minlength=n_bins), persons),
            counts=flat.reshape(n_images, n_bins).astype(np.int32),
            sorted_area=sorted_area,
            area_cdf=np.searchsorted(sorted_area, sorted_area, side="right") / split.n_persons,
        )

    def ks_of(self, split: SplitPersons, image_rows: npt.NDArray[np.int64]) -> float:
        """:func:`ks_distance` of the persons of ``image_rows`` to the split (they are a part of it,
        so the CDFs need comparing only at the split's own areas)."""
        sample = np.sort(_areas_of(split, image_rows))
        if len(sample) == 0:
            return 0.0
        cdf = np.searchsorted(sample, self.sorted_area, side="right") / len(sample)
        return float(np.max(np.abs(cdf - self.area_cdf)))


def _draw_one(split: SplitPersons, prepared: _Prepared, persons: int, seed: int) -> DrawnSubset:
    rng = np.random.default_rng(seed)
    tolerance = person_tolerance(persons)
    order = rng.permutation(len(split.image_persons))
    order = order[split.image_persons[order] > 0]  # empty images are drawn apart (step 6)
    kept = _fill_quotas(prepared.counts[order], split.image_persons[order], prepared.quotas, persons)
    rows = order[kept]
    n_kept = int(split.image_persons[rows].sum())
    if abs(n_kept - persons) > tolerance:
        raise PoseAtlasError(
            f"whole images could not make {persons} persons within {tolerance} (closest reached: {n_kept}); "
            "the split's images hold too many persons each for this count"
        )

    random_rows = _random_prefix(order, split.image_persons, persons)
    empty = np.flatnonzero(split.image_persons == 0)
    n_empty = round(len(empty) * persons / split.n_persons)
    empty_kept = rng.permutation(empty)[:n_empty]
    rows = np.sort(np.concatenate([rows, empty_kept]))
    random_rows = np.sort(np.concatenate([random_rows, empty_kept]))
    ks, random_ks = prepared.ks_of(split, rows), prepared.ks_of(split, random_rows)
    random_persons = int(split.image_persons[random_rows].sum())
    if random_ks < ks and abs(random_persons - persons) <= tolerance:
        # Never worse than plain random sampling: near the full split (N close to P)
        # a random prefix can already match to within a few persons.
        rows, n_kept, ks, method = random_rows, random_persons, random_ks, SamplingMethod.RANDOM
    else:
        method = SamplingMethod.QUOTAS
    return DrawnSubset(
        seed=seed,
        image_rows=rows,
        persons=n_kept,
        ks=ks,
        method=method,
        random_image_rows=random_rows,
        random_persons=random_persons,
        random_ks=random_ks,
    )


def _quotas(bin_sizes: npt.NDArray[np.int64], persons: int) -> npt.NDArray[np.int64]:
    """(B,) largest-remainder rounding of ``persons`` * each bin's share; sums to ``persons``."""
    exact = bin_sizes * (persons / bin_sizes.sum())
    quotas = np.floor(exact).astype(np.int64)
    short = persons - int(quotas.sum())
    # Stable order: equal remainders go to the lower bin, so the result is deterministic.
    quotas[np.argsort(-(exact - quotas), kind="stable")[:short]] += 1
    return quotas


def _fill_quotas(
    counts: npt.NDArray[np.int32],
    sizes: npt.NDArray[np.int64],
    quotas: npt.NDArray[np.int64],
    persons: int,
) -> npt.NDArray[np.bool_]:
    """Which images (in visiting order) to keep: the quota pass, then the closing steps.

    Args:
        counts: (M', B) persons per bin of each candidate image, in visiting order.
        sizes: (M',) persons of each candidate image.
        quotas: (B,) persons each bin may take; they sum to ``persons``.
        persons: the target total, never exceeded.

    Returns:
        (M',) mask of kept images.
    """
    kept = np.zeros(len(sizes), dtype=bool)
    filled = np.zeros(len(quotas), dtype=np.int64)
    for start in range(0, len(sizes), BLOCK_IMAGES):
        block = slice(start, start + BLOCK_IMAGES)
        room = quotas - filled
        block_counts = counts[block]
        fits = np.asarray((block_counts <= room).all(axis=1))  # an array (numpy's stubs allow a scalar)
        tight = (block_counts * fits[:, None]).sum(axis=0) > room
        if tight.any():  # only bins the block could overfill need the running sum
            together = np.cumsum(block_counts[:, tight] * fits[:, None], axis=0)
            fits &= (together <= room[tight]).all(axis=1)
        if fits.any():
            kept[block] = fits
            filled += block_counts[fits].sum(axis=0)
    cumulative = np.cumsum(counts, axis=1, dtype=np.float64)
    own_norm = np.einsum("ij,ij->i", cumulative, cumulative)
    _close_gap(kept, filled, counts, cumulative, own_norm, sizes, quotas, persons)
    _swap_polish(kept, filled, counts, cumulative, own_norm, sizes, quotas, persons)
    return kept


def _close_gap(
    kept: npt.NDArray[np.bool_],
    filled: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int32],
    cumulative: npt.NDArray[np.float64],
    own_norm: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.int64],
    quotas: npt.NDArray[np.int64],
    persons: int,
) -> None:
    """Add the images that best repair the cumulative shortfall until the total reaches ``persons``.

    The quota pass leaves some bins short (their persons sit in images whose other
    persons no longer fit).  With ``c`` the (B,) cumulative shortfall at the bins'
    upper edges (what the KS distance sees) and ``a_i`` image i's cumulative counts,
    adding image i changes ``|c|^2`` by ``|a_i|^2 - 2 a_i . c``; each step adds the
    best-scoring images not yet kept (a batch sized to a quarter of the gap), never
    passing ``persons``.  ``cumulative`` is (M', B) ``a_i`` per image, ``own_norm``
    (M',) ``|a_i|^2``.  Updates ``kept`` and ``filled`` in place.
    """
    mean_size = max(1.0, float(sizes.mean())) if len(sizes) else 1.0
    while (gap := persons - int(filled.sum())) > 0:
        open_rows = np.flatnonzero(~kept & (sizes <= gap))
        if len(open_rows) == 0:
            return
        shortfall = np.cumsum(quotas - filled).astype(np.float64)
        score = own_norm[open_rows] - 2.0 * (cumulative[open_rows] @ shortfall)
        batch = max(1, int(gap / (4 * mean_size)))
        best = open_rows[np.argsort(score, kind="stable")[:batch]]
        best = best[np.cumsum(sizes[best]) <= gap]
        kept[best] = True
        filled += counts[best].sum(axis=0)


def _swap_polish(
    kept: npt.NDArray[np.bool_],
    filled: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int32],
    cumulative: npt.NDArray[np.float64],
    own_norm: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.int64],
    quotas: npt.NDArray[np.int64],
    persons: int,
) -> None:
    """Swap a kept image for an equally large one while that shrinks ``|c|^2``.

    Swapping kept image j for image i changes ``|c|^2`` by
    ``|a_i|^2 - 2 a_i . c + |a_j|^2 + 2 a_j . c - 2 a_i . a_j``; each step takes, per
    image size, the best image to add and the best to drop, and applies the best pair.
    Stops when the largest cumulative shortfall is within 0.1 % of ``persons`` (far
    inside the KS target), when no swap helps, or after ``MAX_SWAPS`` steps.
    """
    good_enough = max(1.0, POLISH_TARGET * persons)
    for _ in range(MAX_SWAPS):
        shortfall = np.cumsum(quotas - filled).astype(np.float64)
        if np.abs(shortfall).max() <= good_enough:
            return
        pull = cumulative @ shortfall
        add = _best_per_size(np.flatnonzero(~kept), own_norm - 2.0 * pull, sizes)
        drop = _best_per_size(np.flatnonzero(kept), own_norm + 2.0 * pull, sizes)
        pairs = [(add[size], drop[size]) for size in add.keys() & drop.keys()]
        if not pairs:
            return
        gain = [
            own_norm[i] - 2.0 * pull[i] + own_norm[j] + 2.0 * pull[j] - 2.0 * cumulative[i] @ cumulative[j]
            for i, j in pairs
        ]
        best = int(np.argmin(gain))
        if gain[best] >= 0:
            return
        i, j = pairs[best]
        kept[i], kept[j] = True, False
        filled += counts[i] - counts[j]


def _best_per_size(
    rows: npt.NDArray[np.int64], score: npt.NDArray[np.float64], sizes: npt.NDArray[np.int64]
) -> dict[int, int]:
    """For each image size among ``rows``, the row with the lowest ``score`` (first in order on ties)."""
    if len(rows) == 0:
        return {}
    order = rows[np.lexsort((score[rows], sizes[rows]))]
    _, first = np.unique(sizes[order], return_index=True)
    return {int(sizes[r]): int(r) for r in order[first]}


def _random_prefix(
    order: npt.NDArray[np.int64], image_persons: npt.NDArray[np.int64], persons: int
) -> npt.NDArray[np.int64]:
    """Plain random image sampling: the prefix of ``order`` whose person total is closest to ``persons``."""
    running = np.cumsum(image_persons[order])
    end = int(np.searchsorted(running, persons))  # first prefix reaching ``persons``
    if end > 0 and (end == len(running) or persons - running[end - 1] <= running[end] - persons):
        return order[:end]
    return order[: end + 1]


def _areas_of(split: SplitPersons, image_rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """(p,) areas of the persons in the given images."""
    in_subset = np.zeros(len(split.image_persons), dtype=bool)
    in_subset[image_rows] = True
    return split.person_area[in_subset[split.person_image]]
