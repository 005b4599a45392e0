"""``lcrec-mini <stage> --preset P --run-dir D [--config F.yaml] [--set key=value ...]``."""

from __future__ import annotations

import argparse
import sys

from lcrec_mini import __version__
from lcrec_mini.core.config import make_config, valid_keys
from lcrec_mini.core.errors import LcrecError
from lcrec_mini.core.presets import PRESETS
from lcrec_mini.core.stage import STAGES, check_run_dir, run_lock, run_named_stage


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lcrec-mini",
        description="LC-Rec, small: semantic item indices, alignment tuning, constrained generation.",
    )
    p.add_argument("--version", action="version", version=f"lcrec-mini {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="base settings (default: cpu)")
        sp.add_argument("--run-dir", default=None, help="folder of the run's outputs (default: runs/<preset>)")
        sp.add_argument("--config", dest="yaml", default=None, help="YAML file of overrides")
        sp.add_argument(
            "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
            help="override one config key, e.g. --set data.source=amazon2018:Video_Games (repeatable)",
        )
        sp.add_argument("--force", action="store_true", help="rerun even if the outputs are up to date")

    for name in STAGES:
        common(sub.add_parser(name, help=f"run the {name} stage"))
    common(sub.add_parser("run", help="run every stage in order (skipping those up to date)"))
    st = sub.add_parser("study", help="the paper's analyses: indexing methods, task ablation, intentions, "
                        "token PCA, case studies (resumable; prints a time estimate first)")
    st.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    st.add_argument("--run-dir", default=None, help="the study's folder (default: runs/study-<preset>)")
    st.add_argument("--only", action="append", default=[], metavar="PART", help="run only this part (repeatable)")
    an = sub.add_parser("analyze", help="the paper's analyses of one finished run: intention-based prediction "
                        "and case studies (written to <run-dir>/analyses/)")
    common(an)
    an.add_argument("--items", type=int, default=100, help="items of the case studies (default: 100)")
    keys = sub.add_parser("config", help="print the resolved config of a preset, or the valid keys")
    keys.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    keys.add_argument("--config", dest="yaml", default=None)
    keys.add_argument("--set", dest="sets", action="append", default=[])
    keys.add_argument("--keys", action="store_true", help="list the valid keys only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "study":
            from lcrec_mini.analyses.study import run_study

            run_study(args.preset, args.run_dir, args.only or None)
            return 0
        cfg = make_config(args.preset, yaml_file=args.yaml, set_items=args.sets)
        if args.command == "config":
            import yaml

            print("\n".join(valid_keys(cfg)) if args.keys else yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
            return 0
        run_dir = check_run_dir(args.run_dir or f"runs/{args.preset}")
        with run_lock(run_dir):
            if args.command == "analyze":
                from lcrec_mini.analyses.study import analyze_run

                analyze_run(cfg, run_dir, args.items, args.force)
                return 0
            for name in STAGES if args.command == "run" else [args.command]:
                run_named_stage(name, cfg, run_dir, args.force)
        if args.command == "run":
            from lcrec_mini.baselines.stage import comparison_table

            print(comparison_table(run_dir))
    except LcrecError as e:
        print(f"lcrec-mini: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lcrec-mini: interrupted; finished stages are kept, the interrupted one left nothing behind", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
