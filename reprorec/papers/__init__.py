"""One package per reproduced paper; each registers its methods with reprorec.registry on import.

Every paper folder has the same files (the paper contract, checked by tests/test_contract.py):
``__init__.py`` (registration + ``CITATION``), ``methods.py``, ``models.py``, ``claims.yaml``,
``configs/``, ``README.md`` with fixed headings, and when needed ``data.py``, ``pretrain.py``
(pretrained vectors, cached through reprorec.cache), ``report.py`` (figures and tables, written to
``report_dir(paper)``) and ``native.py`` with its ``.cpp`` (a compiled kernel).
"""
from __future__ import annotations

import os
from pathlib import Path

README_HEADINGS = ("## Claims", "## Public-data proxy", "## Protocol", "## Deviations", "## Results", "## Verdicts")


def citation(*, key: str, kind: str, title: str, authors: list[str], venue: str, year: int, url: str,
             **extra: str) -> dict:
    """A paper's citation as data, with its BibTeX entry rendered from the same fields (one source)."""
    venue_field = {"article": "journal", "inproceedings": "booktitle"}.get(kind, "howpublished")
    fields = {"title": "{" + title.replace("&", r"\&") + "}", "author": " and ".join(authors), venue_field: venue, "year": str(year),
              "url": url, **extra}
    bib = f"@{kind}{{{key},\n" + ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items()) + "\n}"
    return {"title": title, "authors": list(authors), "venue": venue, "year": year, "url": url, "bibtex": bib}


def report_dir(paper: str) -> Path:
    """Where a paper's report.py writes its figures and tables: ``leaderboards/<paper>/`` (the one place
    for derived outputs; ``REPRO_LEADERBOARDS_DIR`` moves it, as it moves the leaderboards)."""
    root = Path(os.environ.get("REPRO_LEADERBOARDS_DIR", Path(__file__).resolve().parents[2] / "leaderboards"))
    path = root / paper
    path.mkdir(parents=True, exist_ok=True)
    return path
