"""lcrec-mini: LC-Rec (Zheng et al., ICDE 2024) re-implemented and taught.

Stages, each a ``run_<stage>(config, run_dir)`` function writing under the run folder:
``data`` (interactions and item text in LC-Rec's formats) and, as they are built,
``embed``, ``index``, ``tasks``, ``tune``, ``eval``, ``baselines``.
"""

__version__ = "0.1.0"

from lcrec_mini.core.config import Config, make_config  # noqa: E402,F401
from lcrec_mini.core.errors import ConfigError, DataError, DownloadError, LcrecError  # noqa: E402,F401
