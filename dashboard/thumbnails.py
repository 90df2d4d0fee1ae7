"""Open an image for a Browse thumbnail: reduced decode, bounded pixels, one reason on failure.

No streamlit.  A JPEG is decoded at 1/2, 1/4 or 1/8 scale (``Image.draft``) when
the thumbnail is that much smaller, so a 121-megapixel photo costs a few
megabytes instead of 0.4 GB; any format whose (reduced) decode would still exceed
:data:`MAX_DECODE_PIXELS`, and anything Pillow itself refuses as a decompression
bomb (over ~179 megapixels), is not decoded at all and gets a per-image message.
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

#: Most pixels decoded for one thumbnail (a 50-megapixel decode is ~150 MB of RGB).
MAX_DECODE_PIXELS = 50_000_000


class ThumbnailError(Exception):
    """An image that cannot be shown; the message is the per-image reason."""


@dataclass(frozen=True)
class Thumbnail:
    """A decoded image ready to draw on.

    Attributes:
        image: RGB, at most the size that was asked for along its longer side
            (smaller when the source is).
        source_size: (width, height) of the file's full-size image; annotation
            coordinates refer to it.
        decoded_size: (width, height) actually decoded (smaller than
            ``source_size`` when the decoder could reduce).
    """

    image: Image.Image
    source_size: tuple[int, int]
    decoded_size: tuple[int, int]


def open_thumbnail(path: Path | str, max_side: int = 640, max_decode_pixels: int = MAX_DECODE_PIXELS) -> Thumbnail:
    """Decode ``path`` reduced to about ``max_side`` pixels along its longer side.

    Raises:
        ThumbnailError: not found, not an image, truncated, too many pixels.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block this thread for good
            raise ThumbnailError("not a regular file (a pipe, device or folder): not opened")
        with warnings.catch_warnings():
            # Pillow warns above ~89 megapixels; the bound below is ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return _reduced(im, max_side, max_decode_pixels)
    except Image.DecompressionBombError as exc:
        raise ThumbnailError(f"not drawn: {exc}".split(", could be")[0]) from None
    except FileNotFoundError:
        raise ThumbnailError("image file not found") from None
    except Image.UnidentifiedImageError:
        raise ThumbnailError("not a readable image (unknown format or corrupt header)") from None
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's decoders raise all three
        raise ThumbnailError(f"cannot decode image ({exc})") from None


def _reduced(im: Image.Image, max_side: int, max_decode_pixels: int) -> Thumbnail:
    source = im.size
    scale = min(1.0, max_side / max(max(source), 1))
    wanted = (max(1, round(source[0] * scale)), max(1, round(source[1] * scale)))
    if im.format == "JPEG":
        im.draft("RGB", wanted)  # scale-by-1/2^k decode: >= wanted, never larger than needed
    decoded = im.size
    if decoded[0] * decoded[1] > max_decode_pixels:
        raise ThumbnailError(
            f"not drawn: {source[0]}x{source[1]} image ({source[0] * source[1] / 1e6:.0f} megapixels) "
            f"is above the {max_decode_pixels / 1e6:.0f}-megapixel limit for thumbnails"
        )
    im.load()
    out = im.convert("RGB")
    if out.size != wanted:
        out = out.resize(wanted, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return Thumbnail(out, source, decoded)
