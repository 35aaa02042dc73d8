"""results/ + configs + the dataset catalogue -> a folder of static HTML (no server, no CDN).

Pages: index.html (papers, datasets, what the profiles mean), paper-<p>.html (one sortable table per
dataset and profile, default/tuned/study rows, a provenance block per row with the commands that
regenerate it, the claims when the claims engine is present, the figures) and dataset-<name>.html
(raw files, sha256, terms, official source). Output is deterministic for the same inputs.
"""
from __future__ import annotations

import html
import importlib
import math
import os
import re
import shutil
from collections import defaultdict
from pathlib import Path

from .. import data
from ..leaderboard import paper_title, reference_texts, references, same_setting
from ..records import REPO_ROOT
from ..registry import PAPERS_DIR
from .rows import CI_LEVEL, Row, catalogue_entry, rows as all_rows
from .. import wording

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_OUT = REPO_ROOT / "build" / "site"

esc = html.escape


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.4f}" if abs(x) < 1000 else f"{x:.1f}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def page(title: str, body: str, papers: list[str]) -> str:
    nav = "".join(f'<a href="paper-{esc(p)}.html">{esc(p)}</a>' for p in papers)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)} — reprorec</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="assets/site.css"><script src="assets/site.js"></script></head>\n'
            f'<body><header><a href="index.html"><b>reprorec</b></a>{nav}<a href="index.html#datasets">datasets</a>'
            f"</header>\n<main>\n<h1>{esc(title)}</h1>\n{body}\n</main></body></html>\n")


# ---------------------------------------------------------------------------------------------- notes

# ---------------------------------------------------------------------------------------------- tables

def _stat_cell(row: Row, key: str) -> str:
    s = row.stats.get(key)
    if s is None:
        return '<td class="num" data-v="">—</td>'
    text = _fmt(s.mean) + (f" ± {_fmt(s.std)}" if s.std is not None else "")
    ci = f"{int(CI_LEVEL * 100)}% t-interval over seeds [{_fmt(s.lo)}, {_fmt(s.hi)}]" if s.lo is not None else "one seed"
    return (f'<td class="num" data-v="{s.mean!r}" title="{esc(ci)}; n={s.n}">'
            f'<a href="#prov-{row.id}">{esc(text)}</a></td>')


def _ref_cell(row: Row, refs: dict) -> str:
    """The leaderboard's rule (`same_setting`): a published number sits only beside a row of the experiment's
    own full setting, and a reference on another metric is labelled with it."""
    if not same_setting({"profile": row.profile, "study": row.study, "variant": row.variant, "tuned_from": row.tuned}):
        return ""
    return "<br>".join(esc(c) for c in reference_texts(refs.get((row.dataset, row.method), []), row.primary))


def _provenance(row: Row) -> str:
    files, where = row.data_files()
    shas = "".join(f"<li><code>{esc(f)}</code> <code>{esc(h)}</code></li>" for f, h in files.items()) or "<li>none recorded</li>"
    stats = "".join(
        f"<tr><td>{esc(k)}</td><td class=num>{_fmt(s.mean)}</td><td class=num>{_fmt(s.std)}</td>"
        f"<td class=num>{_fmt(s.lo)}</td><td class=num>{_fmt(s.hi)}</td><td class=num>{s.n}</td>"
        f"<td>{esc(' '.join(_fmt(v) for v in s.values))}</td></tr>" for k, s in sorted(row.stats.items()))
    return (f'<details id="prov-{row.id}"><summary>{esc(row.label)} · {esc(row.profile)} · '
            f"config <code>{esc(row.config_hash)}</code> — provenance and regenerate</summary>"
            "<p><b>Regenerate</b> (<code>reprorec run</code> writes fresh records; <code>reprorec verify</code> re-runs "
            "each record's exact config and seed and compares the numbers):</p>"
            f"<pre>{esc(chr(10).join(row.regenerate()))}</pre>"
            f"<p>seeds {esc(' '.join(map(str, row.seeds)))} · profile <code>{esc(row.profile)}</code>"
            f"{' · study <code>' + esc(row.study) + '</code>' if row.study else ''}"
            f" · config hash <code>{esc(row.config_hash)}</code> · config file <code>{esc(row.config_file or '?')}</code>"
            "</p>"
            f"<p>commit(s): {', '.join('<code>' + esc(c) + '</code>' for c in row.commits)}"
            f" · split fingerprint(s): {', '.join('<code>' + esc(s) + '</code>' for s in row.split_fingerprints) or '—'}</p>"
            f"<p>data sha256 (from {esc(where)}):</p><ul>{shas}</ul>"
            f"<p>records:</p><ul>{''.join('<li><code>' + esc(p) + '</code></li>' for p in row.record_paths)}</ul>"
            "<table><thead><tr><th>metric</th><th>mean</th><th>std</th>"
            f"<th>{int(CI_LEVEL * 100)}% CI low</th><th>CI high</th><th>n</th><th>per seed</th></tr></thead>"
            f"<tbody>{stats}</tbody></table></details>")


def _profile_block(paper: str, sect: list[Row]) -> str:
    head, items = wording.overrides_text(paper, sect[0].profile, [(r.dataset, r.method) for r in sect])
    return f"<p class=note>{wording.html(head)}</p>" + (
        "<ul class=note>" + "".join(f"<li>{wording.html(i)}</li>" for i in items) + "</ul>" if items else "")


def _section(paper: str, sect: list[Row], refs: dict) -> str:
    dataset, profile = sect[0].dataset, sect[0].profile
    primary, mode = sect[0].primary, sect[0].mode
    worst = float("inf") if mode == "min" else float("-inf")
    sect.sort(key=lambda r: ((r.stats[f"test/{primary}"].mean if f"test/{primary}" in r.stats else worst)
                             * (1 if mode == "min" else -1), r.label))
    tests = sorted({k for r in sect for k in r.stats if k.startswith("test/")}, key=lambda k: (k != f"test/{primary}", k))
    notes, shared = wording.split_notes([r.note for r in sect])
    labels = wording.control_labels([(r.method, n) for r, n in zip(sect, notes)])
    caveat = wording.notes_describe_full_setting(paper, profile, [(r.dataset, r.method, r.note) for r in sect])
    head = ["rank", "method", "study", "tuned", "n", "seeds"] + [k.replace("test/", "test ") for k in tests] + \
           [f"val {primary}", "config", "wall s/run", "note", "reference (not ours)"]
    body = []
    for rank, (r, note) in enumerate(zip(sect, notes), 1):
        wall = sum(x.get("wall_time_s") or 0.0 for x in r.records) / len(r.records)
        variant = f' <span class=note>[{esc(", ".join(r.variant))}]</span>' if r.variant and not r.tuned else ""
        cells = [f'<td class="num" data-v="{rank}">{rank}</td>', f"<td><code>{esc(r.method)}</code>{variant}</td>",
                 f"<td>{esc(r.study or '')}</td>",
                 f"<td>{esc(str(r.tuned.get('study')) + ', ' + str(r.tuned.get('n_trials')) + ' trials') if r.tuned else ''}</td>",
                 f'<td class="num" data-v="{len(r.records)}">{len(r.records)}</td>', f"<td>{esc(' '.join(map(str, r.seeds)))}</td>"]
        cells += [_stat_cell(r, k) for k in tests]
        cells += [_stat_cell(r, f"val/{primary}"), f'<td><a href="#prov-{r.id}"><code>{esc(r.config_hash)}</code></a></td>',
                  f'<td class="num" data-v="{wall!r}">{wall:.1f}</td>', f"<td class=note>{wording.link_labels(note, labels, 'html')}</td>",
                  f"<td class=ref>{_ref_cell(r, refs)}</td>"]
        body.append(f'<tr id="row-{r.id}">' + "".join(cells) + "</tr>")
    sid = _slug(f"{dataset}-{profile}")
    better = "lower" if mode == "min" else "higher"
    fig = Path("figures") / f"{paper}-{dataset}-{profile}.png"
    return (f'<h2 id="{sid}">{esc(dataset)} · profile <code>{esc(profile)}</code></h2>\n'
            f"<p>Ranked by test {esc(str(primary))} ({better} is better); mean ± sample std over seeds, hover a number "
            f"for its {int(CI_LEVEL * 100)}% t-interval, click it for provenance. Dataset: "
            f'<a href="dataset-{esc(_dataset_page(dataset))}.html">{esc(dataset)}</a>.</p>\n'
            + _profile_block(paper, sect)
            + (f"<p class=note>All rows: {wording.link_labels(shared, labels, 'html')}</p>" if shared else "")
            + (f"<p class=note><b>{wording.html(caveat)}</b></p>" if caveat else "")
            + '<table class="sortable"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head)
            + "</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
            + (f'<p><img class="figure" src="{fig.as_posix()}" alt="test {esc(str(primary))} by method"></p>'
               if (REPO_ROOT / "leaderboards" / fig).exists() else "")
            + "\n".join(_provenance(r) for r in sect) + "\n")


def _dataset_page(dataset: str) -> str:
    entry = catalogue_entry(dataset)
    return entry.name if entry else dataset


# ---------------------------------------------------------------------------------------------- claims

def _claims_html(paper: str, sections: list[tuple[str, str]]) -> str:
    """The claims engine's outcomes for a paper, each with its effect and CI drawn and a link to the
    tables it was computed from; empty when the engine (reprorec.claims.evaluate) is not installed or
    the paper has no claims."""
    try:
        claims = importlib.import_module("reprorec.claims")
    except ImportError:
        return ""
    evaluate = getattr(claims, "evaluate", None)
    has = getattr(claims, "papers_with_claims", None)
    if evaluate is None or (has is not None and paper not in has()):
        return ""
    results = evaluate(paper)
    if not results:
        return ""
    items = []
    for res in results:
        d = res.as_dict() if hasattr(res, "as_dict") else res if isinstance(res, dict) else vars(res)
        cid = str(d.get("claim") or d.get("id") or len(items) + 1)
        outcome = str(d.get("outcome") or "")
        effect, ci = d.get("effect"), d.get("ci") or (None, None)
        finite = isinstance(effect, (int, float)) and math.isfinite(effect)
        text = d.get("paper_says") or d.get("label") or ""
        dataset = d.get("dataset")
        where = " · ".join(str(d[k]) for k in ("dataset", "metric") if d.get(k))
        detail = "; ".join(x for x in (
            f"{d.get('kind')}" if d.get("kind") else "",
            f"n = {d['n']}" if d.get("n") else "",
            f"p (Holm) = {d['p_adj']:.2g}" if isinstance(d.get("p_adj"), float) and math.isfinite(d["p_adj"]) else "",
            str(d.get("uncertainty") or ""), str(d.get("note") or "")) if x)
        links = [f'<a href="#{_slug(f"{ds}-{p}")}">{esc(ds)} · {esc(p)}</a>' for ds, p in sections if ds == dataset]
        items.append(f'<tr id="claim-{esc(_slug(cid + "-" + str(dataset)))}"><td>{esc(cid)}</td><td>{esc(str(text))}'
                     + (f'<br><span class=note>{esc(str(d["source"]))}</span>' if d.get("source") else "") + "</td>"
                     f'<td>{esc(where)}</td><td class="outcome-{esc(_slug(outcome.lower()))}">{esc(outcome)}</td>'
                     f'<td class=num data-v="{effect!r}">{_fmt(effect) if finite else "—"}</td>'
                     f'<td>{_ci_svg(effect, ci) if finite else ""}<br><span class=note>'
                     f'{"[" + _fmt(ci[0]) + ", " + _fmt(ci[1]) + "]" if finite and ci[0] is not None else ""}</span></td>'
                     f"<td class=note>{esc(detail)}</td><td>{' '.join(links)}</td></tr>")
    return ('<h2 id="claims">Claims</h2><p>Each claim tested on our records by <code>reprorec claims</code>: effect '
            "(positive = in the paper's favour) with its 95% CI, drawn against zero; the evidence link leads to the "
            'table of the runs it pairs.</p><table class="sortable"><thead><tr><th>claim</th><th>the paper says</th>'
            "<th>where</th><th>outcome</th><th>effect</th><th>effect and CI</th><th>test</th><th>evidence</th></tr>"
            "</thead><tbody>" + "\n".join(items) + "</tbody></table>")


def _ci_svg(effect: float, ci) -> str:
    """A 160x18 px drawing of an effect, its CI and zero."""
    try:
        lo, hi = float(ci[0]), float(ci[1])
    except (TypeError, ValueError, IndexError):
        lo = hi = effect
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo = hi = effect
    span = max(abs(lo), abs(hi), abs(effect), 1e-12) * 1.1

    def x(v):
        return 80 + 75 * v / span
    return (f'<svg width="160" height="18" role="img" aria-label="effect {_fmt(effect)} CI [{_fmt(lo)}, {_fmt(hi)}]">'
            f'<line x1="80" y1="0" x2="80" y2="18" stroke="#999"/>'
            f'<line x1="{x(lo):.1f}" y1="9" x2="{x(hi):.1f}" y2="9" stroke="#24344d" stroke-width="2"/>'
            f'<circle cx="{x(effect):.1f}" cy="9" r="3.5" fill="#d9822b"/></svg>')


# ---------------------------------------------------------------------------------------------- pages

def _paper_page(paper: str, rows: list[Row], papers: list[str], figures: list[str]) -> str:
    refs = references(paper)
    by_section: dict = defaultdict(list)
    for r in rows:
        by_section[(r.dataset, r.profile)].append(r)
    toc = "".join(f'<li><a href="#{_slug(f"{d}-{p}")}">{esc(d)} · {esc(p)}</a> ({len(s)} rows)</li>'
                  for (d, p), s in sorted(by_section.items()))
    profiles = sorted({p for _, p in by_section})
    meaning = "".join(f"<li><code>{esc(p)}</code>: {wording.html(wording.profile_meaning(p))}</li>" for p in profiles)
    body = [f"<p>Our numbers from <code>results/</code>: one row per exact configuration (method, study, tuned or "
            f"default, config hash), mean ± sample std over its seeds on the test split. The reference column holds "
            f"published numbers with their source; they are not ours and are never ranked. "
            f'Paper notes: <code>reprorec/papers/{esc(paper)}/README.md</code>.</p>',
            f"<p>Profiles:</p><ul>{meaning}</ul>", f"<ul>{toc}</ul>",
            _claims_html(paper, sorted(by_section, key=lambda k: (k[1] != "full", k)))]
    for key in sorted(by_section):
        body.append(_section(paper, by_section[key], refs))
    if figures:
        body.append('<h2 id="figures">Figures</h2>' + "".join(
            f'<figure><img class="figure" src="{esc(f)}" alt="{esc(Path(f).stem)}"><figcaption>{esc(Path(f).stem)}'
            "</figcaption></figure>" for f in figures))
    return page(paper_title(paper), "\n".join(body), papers)


def _dataset_html(name: str, used_by: list[Row], papers: list[str]) -> str:
    e = data.get(name)
    files = "".join(f"<tr><td><code>{esc(rf.path)}</code></td><td><code>{esc(rf.sha256 or '(not pinned)')}</code></td>"
                    f"<td>{_source(rf)}</td></tr>" for rf in e.raw_files())
    uses = sorted({(r.paper, r.dataset, r.profile) for r in used_by})
    use_html = "".join(f'<li><a href="paper-{esc(p)}.html#{_slug(f"{d}-{pr}")}">{esc(p)} · {esc(d)} · {esc(pr)}</a></li>'
                       for p, d, pr in uses)
    body = (f"<p>{esc(e.description)}</p><p><b>Terms:</b> {esc(e.terms)}</p>"
            "<p>The sha256 is of each file's content (decompressed for <code>.gz</code>); "
            f"<code>reprorec data verify {esc(name)}</code> checks a local copy.</p>"
            '<table class="sortable"><thead><tr><th>file</th><th>sha256</th><th>official source</th></tr></thead>'
            f"<tbody>{files}</tbody></table>"
            + (f"<h2>Used by</h2><ul>{use_html}</ul>" if use_html else ""))
    return page(f"Dataset {name}", body, papers)


def _source(rf) -> str:
    if rf.url:
        return f'<a href="{esc(rf.url)}" rel="external">{esc(rf.url)}</a>' + (
            f" (member <code>{esc(rf.member)}</code>)" if rf.member else "")
    return esc(rf.how_to_get or "no public download")


def _index(papers: list[str], rows: list[Row], datasets: list[str], refused: list) -> str:
    per_paper = defaultdict(list)
    for r in rows:
        per_paper[r.paper].append(r)
    prow = "".join(f'<tr><td><a href="paper-{esc(p)}.html">{esc(p)}</a></td><td>{esc(paper_title(p))}</td>'
                   f'<td class=num>{len({r.dataset for r in per_paper[p]})}</td><td class=num>{len({r.method for r in per_paper[p]})}</td>'
                   f'<td class=num>{len(per_paper[p])}</td><td class=num>{sum(len(r.records) for r in per_paper[p])}</td></tr>'
                   for p in papers)
    cat = data.catalogue()
    drow = "".join(f'<tr><td><a href="dataset-{esc(n)}.html">{esc(n)}</a></td><td>{esc(cat[n].description)}</td></tr>'
                   for n in datasets)
    meaning = "".join(f"<li><code>{esc(p)}</code>: {wording.html(m)}</li>" for p, m in wording.PROFILE_MEANING.items())
    body = ("<p>Every number on these pages comes from a result record in <code>results/</code> and links to its "
            "provenance: seeds, config hash, commit, record paths, data sha256s, and the command that regenerates it. "
            "Cite one with <code>reprorec cite PAPER DATASET METHOD</code>.</p>"
            '<h2 id="papers">Papers</h2><table class="sortable"><thead><tr><th>paper</th><th>title</th><th>datasets</th>'
            f"<th>methods</th><th>rows</th><th>runs</th></tr></thead><tbody>{prow}</tbody></table>"
            f'<h2 id="profiles">Profiles</h2><ul>{meaning}</ul>'
            '<h2 id="datasets">Datasets</h2><table class="sortable"><thead><tr><th>name</th><th>description</th></tr></thead>'
            f"<tbody>{drow}</tbody></table>")
    if refused:
        items = "".join(f"<li><code>{esc(os.path.relpath(p, REPO_ROOT))}</code>: {esc('; '.join(why))}</li>"
                        for p, why in sorted(refused))
        body += (f'<h2 id="refused">Records left out</h2><p>{len(refused)} records fail the record checks '
                 f"(<code>reprorec.records.check_record</code>) and are in no table:</p><ul>{items}</ul>")
    return page("reprorec leaderboard", body, papers)


def build(out_dir: Path | None = None, results_root: Path | None = None) -> list[Path]:
    """Write the site; returns the HTML pages written."""
    out = Path(out_dir or DEFAULT_OUT)
    if out.exists():
        shutil.rmtree(out)
    (out / "assets").mkdir(parents=True)
    for f in sorted(ASSETS.iterdir()):
        shutil.copyfile(f, out / "assets" / f.name)
    refused: list = []
    rows = all_rows(results_root=results_root, refused=refused)
    papers = sorted({r.paper for r in rows})
    pages = []
    lb_figs = REPO_ROOT / "leaderboards" / "figures"
    for paper in papers:
        prow = [r for r in rows if r.paper == paper]
        figs = []
        (out / "figures" / paper).mkdir(parents=True, exist_ok=True)
        for f in sorted(lb_figs.glob(f"{paper}-*.png")):  # leaderboard bars: inline in their section, else listed
            shutil.copyfile(f, out / "figures" / f.name)
            if not any(f.name == f"{paper}-{r.dataset}-{r.profile}.png" for r in prow):
                figs.append(f"figures/{f.name}")
        for folder in (REPO_ROOT / "leaderboards" / paper, PAPERS_DIR / paper / "figures"):  # report figures
            for f in sorted(folder.glob("*.png")):
                shutil.copyfile(f, out / "figures" / paper / f.name)
                figs.append(f"figures/{paper}/{f.name}")
        p = out / f"paper-{paper}.html"
        p.write_text(_paper_page(paper, prow, papers, figs))
        pages.append(p)
    datasets = sorted(data.catalogue())
    for name in datasets:
        p = out / f"dataset-{name}.html"
        p.write_text(_dataset_html(name, [r for r in rows if _dataset_page(r.dataset) == name], papers))
        pages.append(p)
    for r in rows:  # derived datasets without a catalogue entry still get a page, so every link resolves
        if _dataset_page(r.dataset) not in datasets:
            p = out / f"dataset-{r.dataset}.html"
            if not p.exists():
                p.write_text(page(f"Dataset {r.dataset}", "<p>Derived inside its paper's code; see the paper README.</p>", papers))
                pages.append(p)
    idx = out / "index.html"
    idx.write_text(_index(papers, rows, datasets, refused))
    return [idx] + pages


def add_parser(sub) -> None:
    p = sub.add_parser("site", help="build the static web leaderboard (plain HTML) from results/")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: build/site)")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    pages = build(Path(args.out))
    print(f"{len(pages)} pages in {args.out}; open {Path(args.out) / 'index.html'}")
    return 0
