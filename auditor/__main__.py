"""`python -m auditor ...` runs the same CLI as the `auditor` console script (for environments without it)."""

import sys

from auditor.cli import main

sys.exit(main())
