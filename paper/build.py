"""Build the manuscript from results/ without Snakemake (the ``paper`` rule does the same).

Run from the repository root once ``results/tables`` and ``results/figures`` exist::

    python paper/build.py                                   # config/config.yaml
    python paper/build.py --configfile config/reference.yaml

Writes paper/paper.md, paper/paper.html, paper/pdf.log (and paper/paper.pdf where pandoc
and a LaTeX engine are installed). Extra config files are merged over
config/config.yaml as Snakemake merges them: mappings key by key, lists replaced.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from ecgrepro.aggregate.paper import build_paper  # noqa: E402
from ecgrepro.config import merge  # noqa: E402  (Snakemake's merge, one home)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configfile", action="append", default=[])
    p.add_argument("--tables", default="results/tables")
    p.add_argument("--figures", default="results/figures")
    args = p.parse_args(argv)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for extra in args.configfile:
        config = merge(config, yaml.safe_load(Path(extra).read_text()) or {})
    build_paper(template=ROOT / "paper" / "paper.md.j2",
                bibliography=ROOT / "paper" / "references.bib", tables_dir=args.tables,
                figures_dir=args.figures, config=config, out_md="paper/paper.md",
                out_html="paper/paper.html", pdf_log="paper/pdf.log")
    print("wrote paper/paper.md, paper/paper.html;", Path("paper/pdf.log").read_text().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
