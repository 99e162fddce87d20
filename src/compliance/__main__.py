"""``python -m compliance``."""

from compliance.cli import main

raise SystemExit(main())
