"""What the leaderboards say around their numbers, written once for the markdown tables
(reprorec/leaderboard.py) and the site (reprorec/site/build.py): what each profile means, what a profile
changes in each experiment, the caveat that notes describe the full setting, the note every row of a table
shares, and the control labels of the notes ((a), (a'), ...) tied to the experiments they name.

Text here is markdown-flavoured (`code` in backticks); `html` turns it into escaped HTML for the site.
"""
from __future__ import annotations

import functools
import html as _html
import json
import re


PROFILE_MEANING = {
    "quick": "a fast check of the whole path: the experiment's config with its `profiles.quick` overrides "
             "(fewer epochs, a shorter stream or fewer rows; listed with each table). Not the paper-scale protocol: "
             "do not compare quick numbers with full ones or with a paper.",
    "full": "the experiment's config as written (paper-scale protocol, with `profiles.full` overrides where "
            "listed), 5 seeds by default.",
    "prefix": "the full model and settings on a prefix of the stream (`profiles.prefix` overrides listed "
              "with each table): how far the curve has come at that point, not a final number.",
}
NOTES_FULL_SETTING = ("Notes come from the experiment configs and describe their full setting; this table ran "
                      "with the `{profile}` overrides listed above.")
NO_OVERRIDES = "none (the config as written)"
_LABEL = re.compile(r"^\(([a-z]'*)\)\s")
_MENTION = re.compile(r"\(([a-z]'*)\)")


def html(text: str) -> str:
    """Markdown-flavoured wording -> escaped HTML (`x` -> <code>x</code>)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _html.escape(text))


def profile_meaning(profile: str) -> str:
    return PROFILE_MEANING.get(profile, f"the config's `profiles.{profile}` overrides")


@functools.lru_cache(maxsize=None)
def _configs(paper: str) -> dict[tuple[str, str], dict]:
    """(dataset, experiment name) -> loaded config; an experiment shares its method with others (kge-attention-*)."""
    from . import registry

    out = {}
    for path, cfg in registry.experiment_configs(paper, warn=False):
        out.setdefault((cfg["dataset"], registry.experiment_name(cfg)), cfg)
    return out


def profile_overrides(paper: str, dataset: str, experiment: str) -> dict[str, dict]:
    """The experiment's config ``profiles`` block: what each profile changes relative to the file."""
    cfg = _configs(paper).get((dataset, experiment))
    return (cfg or {}).get("profiles") or {}


def _flatten(d: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def override_groups(paper: str, profile: str, rows: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """[(`key=value, ...` or 'none (the config as written)', [experiments])] for the (dataset, experiment)
    rows of one table under ``profile``, one entry per distinct set of overrides, sorted."""
    seen: dict[str, list[str]] = {}
    for dataset, experiment in rows:
        over = _flatten(profile_overrides(paper, dataset, experiment).get(profile) or {})
        text = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(over.items())) or NO_OVERRIDES
        if experiment not in seen.setdefault(text, []):
            seen[text].append(experiment)
    return sorted(seen.items())


def overrides_text(paper: str, profile: str, rows: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """The sentence before a table saying what its profile changed, and the per-experiment lines when the
    experiments differ (markdown-flavoured)."""
    groups = [(t if t == NO_OVERRIDES else f"`{t}`", ms) for t, ms in override_groups(paper, profile, rows)]
    if len(groups) == 1:
        return f"Profile `{profile}` overrides: {groups[0][0]}", []
    return f"Profile `{profile}` overrides by method:", [f"{t}: {', '.join(ms)}" for t, ms in groups]


def notes_describe_full_setting(paper: str, profile: str, rows: list[tuple[str, str, str]]) -> str:
    """The caveat for a non-full table whose (dataset, experiment, note) rows have notes and ran with overrides;
    '' when none is needed."""
    if profile == "full" or not any(note for _, _, note in rows):
        return ""
    if not any(profile_overrides(paper, d, e).get(profile) for d, e, _ in rows):
        return ""
    return NOTES_FULL_SETTING.format(profile=profile)


def split_notes(notes: list[str]) -> tuple[list[str], str]:
    """Per-row notes minus the sentences every row of a table shares, and that shared tail."""
    if len(notes) < 2 or not all(notes):
        return notes, ""
    split = [re.split(r"(?<=[.;])\s+", n) for n in notes]
    common: list[str] = []
    while all(len(s) > len(common) for s in split):
        tail = {s[-1 - len(common)] for s in split}
        if len(tail) != 1:
            break
        common.insert(0, tail.pop())
    if not common:
        return notes, ""
    return [" ".join(s[: len(s) - len(common)]) for s in split], " ".join(common)


def control_labels(rows: list[tuple[str, str]]) -> dict[str, str]:
    """{label: experiment} from (experiment, note) rows whose note starts with its label, e.g. "(a') control: ...";
    a label several experiments claim names none."""
    owners: dict[str, set] = {}
    for experiment, note in rows:
        m = _LABEL.match(note or "")
        if m:
            owners.setdefault(m.group(1), set()).add(experiment)
    return {lab: next(iter(ms)) for lab, ms in owners.items() if len(ms) == 1}


def link_labels(text: str, labels: dict[str, str], fmt: str = "md", own: bool = False) -> str:
    """Every control label the text mentions, e.g. (a'), followed by the experiment it names:
    "(a' = `backbone-pretrain`)"; ``fmt='html'`` escapes the rest for the site; ``own``: the note's leading
    label is its own row's (shown beside the experiment's name) and stays as it is."""
    escape = _html.escape if fmt == "html" else (lambda s: s)
    code = (lambda s: f"<code>{escape(s)}</code>") if fmt == "html" else (lambda s: f"`{s}`")
    out, last = [], 0
    lead = _LABEL.match(text) if own else None
    if lead:
        out.append(escape(lead.group(0)))
        last = lead.end()
    for m in _MENTION.finditer(text, last):
        lab = m.group(1)
        out.append(escape(text[last:m.start()]))
        out.append(f"({escape(lab)} = {code(labels[lab])})" if lab in labels else escape(m.group(0)))
        last = m.end()
    out.append(escape(text[last:]))
    return "".join(out)
