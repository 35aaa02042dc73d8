"""Writes reprorec/papers/transra/configs/*.yaml: one place for the blocks every experiment must share (data windows,
graph, KGE settings), so the KGE cache key is identical across (b)/(c)/(d)/lp-* of a dataset.

  python -m reprorec.papers.transra.make_configs        # rewrites the configs (byte-identical if nothing changed)
"""
import sys
from pathlib import Path

import yaml

DS = {
 "ml-100k-ctr": "MovieLens 100K as a CTR proxy (click = rating >= 4), time windows 0-50% pretrain | 50-80% train | 80-90% val | 90-100% test",
 "amazon-musical-instruments-ctr": "Amazon 2014 Musical Instruments 5-core as a CTR proxy (click = rating >= 4; 1 sampled unreviewed item per review as a non-click), same time windows",
}
KGE = {"dim": 32, "p": 2, "anchors": ["engage_pos"], "split": [0.9, 0.05, 0.05],
       "train": {"epochs": 12, "batch_size": 2048, "lr": 0.005, "loss": "margin", "margin": 1.0, "num_negs": 2,
                 "typed_negatives": True, "filtered_negatives": True, "eval_every": 2, "patience": 2}}
SRC = ("Backbone = the shared DCNv2 (FuxiCTR defaults: 3 full-rank cross layers, parallel MLP), MLP [256, 128], "
       "dropout 0.2, Adam 1e-3 (SparseAdam for the ID tables), ID tables 32-d; hand-set, not tuned. "
       "KGE: 32-d (= ID-table dim, so vectors drop into the tables), L2 scoring, margin 1, 2 typed+filtered "
       "negatives per edge, Adam 5e-3, batch 2048, at most 12 epochs, early stop on val MRR. The paper gives no hyper-parameters (only its abstract is public).")
VARIANTS = {
 "backbone": ("(a) backbone: DCNv2 + Large ID Embedding Tables trained from scratch.", None),
 "backbone-pretrain": ("(a') control: (a) trained on the pretraining + train windows' CTR examples (the data (b)-(d) see through the graph); val/test unchanged.", None),
 "backbone-pretrain-reviewed": ("(a'') control: (a') without the pretraining window's non-clicks of items nobody had reviewed yet at that time (the proxy samples non-clicks from all items of the file).", None),
 "kge-features": ("(b) (a) + frozen TransRA (interpretation) user/item vectors as extra fields: 'direct incorporation'.", "transra"),
 "kge-init": ("(c) (a) with user/item ID tables initialised from TransRA (interpretation) vectors and finetuned.", "transra"),
 "kge-attention-transe": ("(d) (c) + attention over relation-specific KGE views (query = other side's ID embedding), KGE finetuned; KGE source TransE.", "transe"),
 "kge-attention-transr": ("(d) with TransR as the KGE source.", "transr"),
 "kge-attention-transra": ("(d) with TransRA (interpretation) as the KGE source: the paper's full method.", "transra"),
 "kge-attention-transra-pretrain": ("(d') (d) with TransRA, trained on the pretraining + train windows' CTR examples like (a'): what the graph route adds on top of that data.", "transra"),
 "lp-transe": ("Link prediction of TransE on held-out pretraining-window graph edges (filtered, both sides).", "transe"),
 "lp-transr": ("Link prediction of TransR on held-out graph edges.", "transr"),
 "lp-transra": ("Link prediction of TransRA (interpretation) on held-out graph edges.", "transra"),
}
def main(out: Path) -> None:
    for ds, dsdesc in DS.items():
        for method, (desc, kge) in VARIANTS.items():
            if method == "backbone-pretrain-reviewed" and not ds.startswith("amazon"):
                continue  # every ML-100K impression is a real rating: (a'') would equal (a')
            lp = method.startswith("lp-")
            cfg = {"paper": "transra", "dataset": ds + ("-graph" if lp else ""), "method": method, "source": SRC,
                   "metric": {"name": "mrr", "mode": "max"} if lp else {"name": "auc", "mode": "max"},
                   "data": {"windows": [0.5, 0.8, 0.9], "min_count": 1, "id_dim": 32}}
            if kge:
                cfg["graph"] = {"freebase": False}
                cfg["kge"] = {"model": kge, **KGE}
            cfg["model"] = {"embed_dim": 16, "cross_layers": 3, "hidden": [256, 128], "dropout": 0.2}
            cfg["train"] = {"lr": 0.001, "weight_decay": 0.0, "batch_size": 1024, "max_epochs": 10, "patience": 2}
            if method.startswith("backbone-pretrain") or method.endswith("-pretrain"):
                cfg["train"]["windows"] = ["pretrain", "train"]
            quick = {"train": {"max_epochs": 1}}
            if kge:
                quick["kge"] = {"train": {"epochs": 1, "eval_every": 1}}
            cfg["profiles"] = {"quick": quick, "full": {}}
            note = (f"{dsdesc}. " + ("Graph = pretraining window only; metric = filtered MRR over all graph entities, "
                    "head and tail sides pooled." if lp else "Test AUC of the best-validation epoch."))
            cfg["leaderboard_note"] = desc + " " + note
            text = f"# {desc}\n" + yaml.safe_dump(cfg, sort_keys=False, width=110)
            (out / f"{cfg['dataset']}-{method}.yaml").write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "configs")
