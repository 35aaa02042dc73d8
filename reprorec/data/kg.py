"""Knowledge graph for MovieLens 100K items: Freebase triples linked by KB4Rec (CGKR's RecBole files).

Dataset name ``ml-100k-kg``. Files (RecBole atomic format, tab-separated, one header line):
  kg/ml-100k_kb4rec_cgkr/ml-100k.kg    head_id, relation_id, tail_id  (Freebase MIDs; 41,751 triples, 29 relations)
  kg/ml-100k_kb4rec_cgkr/ml-100k.link  item_id (ML-100K u.item id), entity_id (MID); 1,105 linked movies

Schemas: ``load_triples()`` -> head str, relation str, tail str (file order; the file repeats 7,424 lines verbatim,
  which are dropped: 34,327 distinct triples over 5,233 entities);
``load_links()`` -> item_id int64, entity str.

Terms: Freebase (CC BY 2.5), KB4Rec (cite Zhao et al., Data Intelligence 2019), CGKR release (Mu et al.,
SIGIR 2022; no licence file); MovieLens ids, so GroupLens terms apply too. Research use only.
"""
from __future__ import annotations

import pandas as pd

from .base import DatasetError, LoadedTable, RawFile, cached_table, resolve

TERMS = ("Freebase CC BY 2.5; cite KB4Rec (Zhao et al. 2019) and CGKR (Mu et al. 2022); "
         "GroupLens ML-100K terms apply (research use only, no redistribution).")
_HOW = "Taken from the CGKR code release (github.com/ShanleiMu/CGKR, dataset/ml-100k/); no direct download."
FILES = {
    "kg": RawFile("kg/ml-100k_kb4rec_cgkr/ml-100k.kg",
                  "4289c1668e507a3e14913857d6bc644cdd408f03aaa64a5f41a7b011ea3fe3b3", how_to_get=_HOW),
    "link": RawFile("kg/ml-100k_kb4rec_cgkr/ml-100k.link",
                    "ef69ad1446b064fe21bdecb5402a9c22accb9935b95973862be7ebd8b49a9cbc", how_to_get=_HOW),
}


def _read(path, dataset: str, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    expected = [c.split(":")[0] for c in frame.columns]
    if len(frame.columns) != len(columns):
        raise DatasetError(f"[{dataset}] {path}: expected {len(columns)} tab-separated columns "
                           f"({', '.join(columns)}), found header {list(frame.columns)}")
    frame.columns = columns
    if (frame == "").any().any():
        bad = int((frame == "").any(axis=1).to_numpy().argmax()) + 2
        raise DatasetError(f"[{dataset}] {path}: empty field at line {bad} (header fields {expected})")
    return frame


def load_triples(dataset: str = "ml-100k-kg") -> LoadedTable:
    rf = FILES["kg"]
    paths, shas = resolve(dataset, [rf])

    def parse():
        return _read(paths[rf.path], dataset, ["head", "relation", "tail"]).drop_duplicates().reset_index(drop=True)

    return LoadedTable(cached_table(f"{dataset}-triples", 1, shas, parse), shas)


def load_links(dataset: str = "ml-100k-kg") -> LoadedTable:
    rf = FILES["link"]
    paths, shas = resolve(dataset, [rf])

    def parse():
        frame = _read(paths[rf.path], dataset, ["item_id", "entity"])
        return frame.astype({"item_id": "int64"})

    return LoadedTable(cached_table(f"{dataset}-links", 1, shas, parse), shas)


def raw_files(dataset: str) -> list[RawFile]:
    return list(FILES.values())
