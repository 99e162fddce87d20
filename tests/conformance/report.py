"""Print conformance pass/fail/skip counts per file and per section.

Run: ``python tests/conformance/report.py [--sections] [--failures]``.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

from cel_corpus import CORE_FILES, EXTENSION_FILES, celpy_pass_list, load_cases, run_case
from skips import SKIP, SKIP_FILES


def main(argv: list[str]) -> int:
    """Run every case and print the tables; exit 1 if a required case fails."""
    celpy = celpy_pass_list()
    by_file: dict[str, Counter[str]] = defaultdict(Counter)
    by_section: dict[str, Counter[str]] = defaultdict(Counter)
    failures: list[str] = []
    required_failures = 0
    for case in load_cases():
        outcome = run_case(case)
        status = outcome.status
        skipped = case.id in SKIP or case.file in SKIP_FILES
        if status != "pass" and skipped and case.id not in celpy:
            status = "skip"
        elif status != "pass":
            failures.append(f"{case.id}: {outcome.detail}")
            required_failures += 1
        by_file[case.file][status] += 1
        by_section[case.section][status] += 1
    _table("file", by_file, _group)
    if "--sections" in argv:
        _table("section", by_section, lambda s: _group(s.split("/")[0]))
    if "--failures" in argv:
        print("\n".join(failures))
    return 1 if required_failures else 0


def _group(file: str) -> str:
    if file in CORE_FILES:
        return "core"
    if file in EXTENSION_FILES:
        return "ext"
    return "skipped file"


def _table(title: str, rows: dict[str, Counter[str]], group: object) -> None:
    header = f"{'pass':>5} {'fail':>5} {'crash':>5} {'skip':>5} {'total':>6}"
    print(f"{title:<48} {'group':<13} {header}")
    totals: Counter[str] = Counter()
    for name in sorted(rows):
        c = rows[name]
        totals.update(c)
        label = group(name)  # type: ignore[operator]
        print(f"{name:<48} {label:<13} {c['pass']:>5} {c['fail']:>5} {c['crash']:>5}"
              f" {c['skip']:>5} {sum(c.values()):>6}")
    print(f"{'all':<48} {'':<13} {totals['pass']:>5} {totals['fail']:>5} {totals['crash']:>5}"
          f" {totals['skip']:>5} {sum(totals.values()):>6}\n")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
