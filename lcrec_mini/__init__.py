"""lcrec-mini: LC-Rec (Zheng et al., ICDE 2024) re-implemented and taught.

One folder per chapter of the method, each holding its config section, its code and its
stage runner (``run_<stage>(config, run_dir)``, writing under the run folder):
``data/``, ``index/`` (stages embed and index), ``tasks/``, ``tune/``, ``generate/``
(stage eval), ``baselines/``; then ``analyses/`` (the paper's analyses), ``book/`` (the
notebooks' tables and figures) and ``core/`` (config, presets, the stage runner, the CLI).
"""

__version__ = "0.1.0"
