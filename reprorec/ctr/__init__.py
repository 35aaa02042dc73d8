"""CTR ranking backbone shared by the ads-ranking papers (TransRA, MF-LET) and the baselines.

API summary
-----------
Data (``ctr_data``)
    data = load_ctr("ml-100k-ctr" | "amazon-<category>-ctr" | "criteo-10k", **kw) -> CTRData
        .windows  {'pretrain','train','val','test'} -> batch dict (criteo: no 'pretrain')
        .schema   FeatureSchema            .id_maps  {'user': {raw_id: row}, 'item': {...}} (row 0 = unseen)
        .pretrain DataFrame of pretraining-window interactions: user, item, user_row, item_row,
                  label, rating, timestamp  (build KGE / contrastive graphs from this ONLY)
        .loaders(batch_size, seed) -> {'train','val','test'} DataLoaders;  .files, .split_fingerprint, .cuts, .info
    kw: windows=(0.5, 0.8, 0.9) time quantiles (pretrain_end, val_start, test_start), min_count,
        id_dim (ID-table dim), buckets={'user': n} (hashing), neg_ratio/neg_seed (Amazon).
Batch dict (``schema``): batch['user'|'item'] (B,) rows of large ID tables; batch['cat'] (B, F)
    attribute ids (one shared, offset index space); batch[<bag>] (B, L) multi-hot ids, 0 = pad;
    batch['num'] (B, N) floats; batch['y'] (B,) labels; batch['time'] (B,) unix seconds (not a feature).
Models (``models``)
    model = build_model('dcnv2' | 'dnn', schema, embed_dim=16, cross_layers=3, hidden=(400, 400, 400),
                        dropout=0.0, batch_norm=False, numeric='embed' | 'raw', sparse='auto' | True | False,
                        init='torch' | 'fuxictr', extra=None)
        sparse='auto': tables with >= 100k rows get sparse gradients (SparseAdam), smaller ones dense Adam.
    model(batch) -> logits (B,);  model.embedding(batch) -> (B, D) flat features
    model.id_table('item') -> IdEmbedding: .load_pretrained(vectors, ids=rows, freeze=False),
        .collisions(), .rows(ids) (hashing), .table (nn.Embedding(sparse=True))
Training (``module``, ``run``)
    CTRModule(model, lr, sparse_lr=None, weight_decay) — Lightning; dense Adam + SparseAdam for ID
        tables (manual optimisation), logs val/test auc + logloss.  make_optimizers(model, lr) for plain loops.
    data_from_cfg(cfg), model_from_cfg(cfg, schema, arch=None), fit_ctr(model, data, cfg, ctx) -> RunResult
Older pieces: ``features.CategoricalEncoder`` / ``criteo_numeric`` (used by ctr_data), ``linear.LogisticRegression``.
"""
from ..data.ctr import CTRData, load_ctr
from .embedding import FeatureEmbedding, IdEmbedding, hash_ids
from .models import DCNv2, DNN, CTRModel, build_model
from .module import CTRModule, make_optimizers
from ..data.ctr_schema import FeatureSchema, IdField, MultiHotField

__all__ = ["CTRData", "CTRModel", "CTRModule", "DCNv2", "DNN", "FeatureEmbedding", "FeatureSchema", "IdEmbedding",
           "IdField", "MultiHotField", "build_model", "hash_ids", "load_ctr", "make_optimizers"]
