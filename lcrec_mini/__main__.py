"""``python -m lcrec_mini``: the command line, as ``lcrec-mini`` (for ``accelerate launch -m``)."""

import sys

from lcrec_mini.core.cli import main

sys.exit(main())
