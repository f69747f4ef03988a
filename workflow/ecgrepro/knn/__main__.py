"""``python -m ecgrepro.knn``: see :mod:`ecgrepro.knn.jobs.cli`."""

import sys

from ecgrepro.knn.jobs.cli import main

sys.exit(main())
