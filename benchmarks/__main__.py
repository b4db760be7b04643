"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only 1,3] [--chapters]``."""

import sys

from .suite import main

sys.exit(main())
