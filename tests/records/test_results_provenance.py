"""Every committed record comes from committed code: its commit, or failing that its code trees, are in
main's history, and it was not made from a dirty tree (see `reprorec audit`)."""
from __future__ import annotations

from reprorec.audit import _default_ref, audit
from reprorec.records import REPO_ROOT


def test_every_committed_record_was_made_from_committed_code():
    rows = audit([REPO_ROOT / "results"], ref=_default_ref())  # the committed folder, not the tests' tmp one
    bad = [f"{c}: {path} ({why})" for _, path, c, why in rows if c != "ok"]
    assert rows and not bad, f"{len(bad)} of {len(rows)} records in results/ are not regenerable from a commit:\n" + \
        "\n".join(bad[:20])
