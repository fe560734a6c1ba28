"""One reader per on-disk layout; `read_dataset` picks the right one from a path."""

from movierec.data.readers.detect import detect_layout, read_dataset

__all__ = ["detect_layout", "read_dataset"]
