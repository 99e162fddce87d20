"""Write a condition holding a 5 000-digit integer (past Python's str-to-int limit)."""

from pathlib import Path

Path("pack.yaml").write_text(
    'pack: demo\nversion: "1"\ntier: policy\nrules:\n  - id: huge-literal\n'
    f"    when: size(request.model) > {'9' * 5000}\n    effect: deny\n",
    "utf-8",
)
