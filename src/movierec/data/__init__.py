"""Reading data sets into raw-id interactions and named side-feature fields."""

from movierec.data.dataset import Dataset, FieldKind, RawField
from movierec.data.encoded import EncodedFeatures, FeatureField, encode_fields
from movierec.data.idmap import IdMap
from movierec.data.interactions import to_csr
from movierec.data.readers import read_dataset

__all__ = [
    "Dataset",
    "EncodedFeatures",
    "FeatureField",
    "FieldKind",
    "IdMap",
    "RawField",
    "encode_fields",
    "read_dataset",
    "to_csr",
]
