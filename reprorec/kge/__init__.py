"""Knowledge-graph embeddings (KGE): TransE, TransR, TransRA (interpretation), training, filtered evaluation.

Shared by TransRA (reprorec/papers/transra) and MF-LET's KGE facet. The whole API, in use:

    from reprorec.kge import TripleSet, split_triples, build_model, KGETrainConfig, train_kge, evaluate, KnownTriples

    ts = TripleSet(triples, n_entities, n_relations, entity_type=types)    # (N,3) long: head, relation, tail
    # or TripleSet.from_labels(frame_with_head_relation_tail_columns)
    parts = split_triples(ts, (0.8, 0.1, 0.1), seed=0)                      # every val/test entity seen in train
    model = build_model("transr", ts.n_entities, ts.n_relations, dim=64, relation_dim=64)
    #        names: MODELS = {'transe', 'transr', 'transra'}; TransRA takes anchor_relations=[ids]
    known = KnownTriples(ts.triples, ts.n_entities, ts.n_relations)       # all true triples, for filtering
    info = train_kge(model, parts["train"], KGETrainConfig(epochs=50, loss="margin", typed_negatives=True,
                     filtered_negatives=True, eval_every=5, patience=3), val=parts["val"].triples, known=known)
    metrics = evaluate(model, parts["test"].triples, known)                 # {'mrr','hits@1','hits@3','hits@10'}

    model.score(h, r, t)          # higher = more plausible (negative distance)
    model.entity_vectors()        # (E, d) entity table -> seeds a ranking model's ID embedding tables
    model.relation_view(e, r)     # entity e as seen by relation r (projected), for attention over views

Conventions: scores are negative distances; ranks are filtered, both-sided, ties count half
(reprorec.metrics.filtered_ranks). Negatives corrupt head or tail (half each), optionally within the
entity type the relation expects (``typed_negatives``) and never equal to a known positive
(``filtered_negatives``).
"""
from .evaluation import evaluate, link_prediction_ranks
from .losses import LOSSES, margin_ranking, self_adversarial
from .models import MODELS, KGEModel, TransE, TransR, TransRA, build_model
from .sampling import NegativeSampler
from .training import KGETrainConfig, train_kge
from .triples import KnownTriples, TripleSet, relation_types, split_triples

__all__ = ["KGEModel", "KGETrainConfig", "KnownTriples", "LOSSES", "MODELS", "NegativeSampler", "TransE", "TransR",
           "TransRA", "TripleSet", "build_model", "evaluate", "link_prediction_ranks", "margin_ranking",
           "relation_types", "self_adversarial", "split_triples", "train_kge"]
