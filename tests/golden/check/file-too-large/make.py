"""Write a pack just over the 1 MiB limit (too big to commit)."""

from pathlib import Path

header = 'pack: big\nversion: "1"\ntier: policy\nrules:\n  - id: r\n    effect: deny\n'
padding = "# " + "x" * 77 + "\n"
Path("pack.yaml").write_text(header + padding * (1024 * 1024 // len(padding) + 1), "utf-8")
