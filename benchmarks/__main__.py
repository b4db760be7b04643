"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only 1,7] [--chapters]``."""

import sys

from .suite import main

sys.exit(main())
