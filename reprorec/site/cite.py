"""`reprorec cite PAPER DATASET METHOD`: one number with everything needed to cite and regenerate it.

The interval is the claims engine's (``reprorec.claims.contrast_estimate`` on the row alone) when the
engine is installed, else the Student-t interval of the mean over seeds, and the output says which. Citation metadata for a
paper comes from its package (``CITATION`` dict or ``BIBTEX`` string in reprorec/papers/<p>/__init__.py)
when present, else from the top README's "How to cite" entry with the arXiv id the paper's README names,
else from that README's title, year and arXiv id; nothing is made up (no DOI unless a source gives one). The suite's entry comes from CITATION.cff.
"""
from __future__ import annotations

import importlib
import re
import sys

import yaml

from ..records import REPO_ROOT
from ..registry import PAPERS_DIR
from .rows import CI_LEVEL, Row, rows


def choose_row(paper: str, dataset: str, method: str, profile: str | None = None, study: str | None = None,
               tuned: bool | None = None, config_hash: str | None = None) -> tuple[Row, list[Row]]:
    """The row to cite and the other rows of the same (paper, dataset, method). Without filters: the full
    profile if there is one, the main experiment (no study), tuned if a tuned row exists, most seeds."""
    cands = [r for r in rows(paper) if r.dataset == dataset and r.method == method]
    if not cands:
        raise KeyError(f"no records for {paper} / {dataset} / {method} in results/")
    sel = [r for r in cands if (profile is None or r.profile == profile) and (study is None or r.study == study)
           and (tuned is None or bool(r.tuned) == tuned) and (config_hash is None or r.config_hash.startswith(config_hash))]
    if not sel:
        raise KeyError("no row matches the filters; rows: " + "; ".join(_describe(r) for r in cands))
    best = max(sel, key=lambda r: (r.profile == "full", r.study is None, bool(r.tuned), len(r.records), r.config_hash))
    return best, [r for r in cands if r is not best]


def _describe(r: Row) -> str:
    return (f"profile={r.profile} study={r.study or '-'} {'tuned' if r.tuned else 'default'} "
            f"hash={r.config_hash} n={len(r.records)}")


def interval(row: Row, metric: str) -> tuple[float, float | None, float | None, str]:
    """Mean and 95 % interval of ``metric`` ("test/auc") for one row. The claims engine's estimate (its
    variance model covers test-row sampling when the records carry bootstrap replicates) when it is
    installed and the metric is a test metric; otherwise the Student-t interval over seeds."""
    stat = row.stats[metric]
    split, name = metric.split("/", 1)
    try:
        claims = importlib.import_module("reprorec.claims")
    except ImportError:
        claims = None
    if claims is not None and hasattr(claims, "contrast_estimate") and split == "test":
        est, note = claims.contrast_estimate({"row": {r["seed"]: r for r in row.records}}, {"row": 1.0}, name)
        lo, hi = est.ci(CI_LEVEL)
        if est.n and lo == lo:  # not NaN
            what = "seeds + test rows" if est.rows else "seeds only (no bootstrap replicates in the records)"
            return est.effect, lo, hi, (f"{int(CI_LEVEL * 100)}% interval from the claims engine over {est.n} seeds, "
                                        f"uncertainty: {what}" + (f"; {note}" if note else ""))
    if stat.lo is None:
        return stat.mean, None, None, "one seed: no interval"
    why = ("the claims engine (reprorec.claims) is not installed" if claims is None or not hasattr(claims, "contrast_estimate")
           else "the claims engine's interval covers test metrics" if split != "test" else "the claims engine gave none")
    return stat.mean, stat.lo, stat.hi, f"{int(CI_LEVEL * 100)}% Student-t interval of the mean over {stat.n} seeds ({why})"


# ------------------------------------------------------------------------------------------- BibTeX

def _bib_escape(s: str) -> str:
    return s.replace("&", r"\&").replace("%", r"\%")


def paper_bibtex(paper: str) -> str | None:
    mod = importlib.import_module(f"reprorec.papers.{paper}")
    if isinstance(getattr(mod, "BIBTEX", None), str):
        return mod.BIBTEX.strip()
    meta = getattr(mod, "CITATION", None)
    if isinstance(meta, dict) and isinstance(meta.get("bibtex"), str):
        return meta["bibtex"].strip()
    if isinstance(meta, dict) and meta.get("title"):
        fields = {"title": meta["title"]}
        authors = meta.get("authors")
        if authors:
            fields["author"] = " and ".join(authors) if isinstance(authors, (list, tuple)) else str(authors)
        for k in ("year", "journal", "booktitle", "doi", "url", "note"):
            if meta.get(k):
                fields[k] = str(meta[k])
        if meta.get("venue") and "booktitle" not in fields and "journal" not in fields:
            fields["howpublished"] = str(meta["venue"])
        if meta.get("arxiv"):
            fields.update(eprint=str(meta["arxiv"]), archivePrefix="arXiv")
        return _entry("misc" if "booktitle" not in fields else "inproceedings", f"{paper}{fields.get('year', '')}", fields)
    return _readme_bibtex(paper)


def _readme_bibtex(paper: str) -> str | None:
    readme = PAPERS_DIR / paper / "README.md"
    if not readme.exists():
        return None
    lines = readme.read_text().splitlines()
    head = lines[0].lstrip("# ").strip()
    title = head.split(" — ", 1)[-1]  # "R3 — Review Regularized ..." -> the title after the short name
    title = re.sub(r"\s*\([^()]*\d{4}[^()]*\)\s*$", "", title).strip()
    arxiv = re.search(r"arXiv[: ]\s*(\d{4}\.\d{4,5})", "\n".join(lines[:15]))
    listed = _root_readme_entry(arxiv.group(1) if arxiv else None, title)
    if listed:
        return listed
    if not arxiv:
        return None  # not a paper (e.g. the foundation baselines), or nothing to cite it by
    year = re.search(r"\((?:[^()]*\D)?((?:19|20)\d\d)\)\s*$", head)
    fields = {"title": "{" + title + "}", "year": year.group(1) if year else "20" + arxiv.group(1)[:2],
              "eprint": arxiv.group(1), "archivePrefix": "arXiv",
              "note": f"Authors and venue: see reprorec/papers/{paper}/README.md"}
    return _entry("misc", f"{paper}{fields['year']}", fields)


def _root_readme_entry(arxiv_id: str | None, title: str) -> str | None:
    """The entry for this paper in the top README's "How to cite" block: the one naming its arXiv id,
    else the one whose title is the paper README's title."""
    text = (REPO_ROOT / "README.md").read_text()
    entries = [e.strip() for block in re.findall(r"```bibtex\n(.*?)```", text, flags=re.S)
               for e in re.split(r"\n(?=@)", block.strip())]
    for e in entries:
        if arxiv_id and arxiv_id in e:
            return e
    norm = re.sub(r"\W+", " ", title).strip().lower()
    for e in entries:
        m = re.search(r"title\s*=\s*\{+([^}]*)\}", e)
        if m and norm and re.sub(r"\W+", " ", m.group(1)).strip().lower() == norm:
            return e
    return None


def suite_bibtex() -> str:
    cff = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text())
    authors = " and ".join("{" + a["name"] + "}" if "name" in a else f"{a.get('family-names', '')}, {a.get('given-names', '')}"
                           for a in cff.get("authors", []))
    fields = {"title": "{" + cff["title"] + "}", "author": authors, "version": str(cff.get("version", "")),
              "year": str(cff.get("date-released", ""))[:4], "license": str(cff.get("license", ""))}
    if cff.get("repository-code"):
        fields["url"] = cff["repository-code"]
    if cff.get("doi"):
        fields["doi"] = cff["doi"]
    return _entry("software", "reprorec", {k: v for k, v in fields.items() if v})


def _entry(kind: str, key: str, fields: dict) -> str:
    body = ",\n".join(f"  {k} = {{{_bib_escape(v)}}}" for k, v in fields.items())
    return f"@{kind}{{{key},\n{body}\n}}"


def _key(bib: str | None) -> str | None:
    m = re.match(r"@\w+\{([^,]+),", bib or "")
    return m.group(1) if m else None


# ------------------------------------------------------------------------------------------- output

def cite(paper: str, dataset: str, method: str, metric: str | None = None, fmt: str = "md", **filters) -> str:
    row, others = choose_row(paper, dataset, method, **filters)
    metric = metric or f"test/{row.primary}"
    if "/" not in metric:
        metric = f"test/{metric}"
    if metric not in row.stats:
        raise KeyError(f"metric {metric!r} not in this row; it has: {', '.join(sorted(row.stats))}")
    mean, lo, hi, how = interval(row, metric)
    half = None if lo is None else (hi - lo) / 2
    files, where = row.data_files()
    pbib, sbib = paper_bibtex(paper), suite_bibtex()
    value = f"{mean:.4f}" + (f" ± {half:.4f}" if half is not None else "")
    facts = [
        ("value", f"{metric} = {value}" + (f"  [{lo:.4f}, {hi:.4f}]" if lo is not None else "")),
        ("interval", how),
        ("n", str(len(row.records))), ("seeds", " ".join(map(str, row.seeds))),
        ("profile", row.profile), ("study", row.study or "— (main experiment)"),
        ("tuned", f"{row.tuned.get('study')} ({row.tuned.get('n_trials')} trials)" if row.tuned else "no (config defaults)"),
        ("config hash", row.config_hash), ("config file", row.config_file or "?"),
        ("commit", ", ".join(row.commits)), ("split fingerprint", ", ".join(row.split_fingerprints) or "—"),
    ] + [(f"data sha256 ({where})", f"{f} {h}") for f, h in files.items()] + \
        [("record", p) for p in row.record_paths]
    regen = row.regenerate()
    if fmt == "bibtex":
        return "\n\n".join(b for b in (pbib, sbib) if b) + "\n"
    if fmt == "latex":
        keys = ",".join(k for k in (_key(pbib), _key(sbib)) if k)
        ci = "" if lo is None else (f" (95\\,\\% CI [{lo:.4f}, {hi:.4f}], {'t-interval' if 'Student' in how else 'claims engine'}, "
                                    f"$n={len(row.records)}$ seeds)")
        lines = [f"% {k}: {v}" for k, v in facts] + [f"% regenerate: {c}" for c in regen]
        lines.append(f"{method} on {dataset.replace('_', chr(92) + '_')}: {metric.split('/', 1)[1].replace('_', chr(92) + '_')} "
                     f"${mean:.4f}" + (f" \\pm {half:.4f}" if half is not None else "") + f"${ci}~\\cite{{{keys}}}.")
        return "\n".join(lines) + "\n\n" + "\n\n".join(b for b in (pbib, sbib) if b) + "\n"
    md = [f"**{paper} · {dataset} · {method}**: {metric} = **{value}**", "", "| | |", "|---|---|"]
    md += [f"| {k} | `{v}` |" if k not in ("value", "interval") else f"| {k} | {v} |" for k, v in facts]
    md += ["", "Regenerate:", "", "```sh", *regen, "```"]
    if others:
        md += ["", "Other rows of this method (choose with --profile/--study/--tuned/--hash): "
               + "; ".join(_describe(r) for r in others)]
    md += ["", "```bibtex", "\n\n".join(b for b in (pbib, sbib) if b), "```"]
    if pbib is None:
        md.append("(no paper BibTeX: this experiment is not a paper reproduction, or its citation metadata is missing)")
    return "\n".join(md) + "\n"


def add_parser(sub) -> None:
    p = sub.add_parser("cite", help="a number with its interval, provenance, regenerate command and BibTeX")
    p.add_argument("paper")
    p.add_argument("dataset")
    p.add_argument("method")
    p.add_argument("--metric", help="e.g. auc or test/auc (default: the experiment's primary test metric)")
    p.add_argument("--format", default="md", choices=["md", "latex", "bibtex"])
    p.add_argument("--profile")
    p.add_argument("--study")
    p.add_argument("--tuned", action=argparse_bool(), default=None, help="--tuned / --no-tuned")
    p.add_argument("--hash", dest="config_hash", help="config hash (prefix) of the row")
    p.set_defaults(func=_cmd)


def argparse_bool():
    import argparse

    return argparse.BooleanOptionalAction


def _cmd(args) -> int:
    sys.stdout.write(cite(args.paper, args.dataset, args.method, args.metric, args.format, profile=args.profile,
                          study=args.study, tuned=args.tuned, config_hash=args.config_hash))
    return 0
