"""FM on the fixed ml-100k mixed split: a short run already far above popularity (~0.15).

The full-length figures (0.2890 mixed, 0.3468 random) are in docs/issue3-results.md;
this test keeps to 6 epochs so it stays cheap.
"""

import pandas as pd
import pytest

from movierec.data.encoded import EncodedFeatures, encode_fields
from movierec.data.idmap import IdMap
from movierec.data.interactions import to_csr
from movierec.data.readers import read_dataset
from movierec.evaluate import evaluate
from movierec.models.torch.fm import FM
from movierec.split import read_split


@pytest.mark.realdata
def test_fm_short_run_on_the_mixed_split(data_dir, splits_dir):
    split = read_split(splits_dir / "ml100k-mixed-s0")
    every = pd.concat([split.train, split.valid, split.test])
    idmap = IdMap.from_ids(every.user, every.item)
    train, valid, test = (to_csr(part, idmap) for part in (split.train, split.valid, split.test))
    dataset = read_dataset(data_dir / "ml-100k")
    features = EncodedFeatures(encode_fields(dataset.item_fields, idmap.items)[0],
                               encode_fields(dataset.user_fields, idmap.users)[0])
    model = FM(epochs=6, device="cpu").fit(train, features=features)
    recall = evaluate(model.score, test, exclude=train + valid)["recall@10"]
    assert recall > 0.24, recall
