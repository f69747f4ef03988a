"""``python -m ecgrepro.knn <command>``: the k-NN jobs, the one entry the rules call.

Commands (the k-NN rules of the workflow call the first four):

* ``window-block``  LOO window search for one block of training rows (``learned``)
* ``window-gather`` join those blocks: the LOO table and the selected window (JSON)
* ``block``         one block of test rows of one (dataset, variant): its k nearest
* ``gather``        join a variant's blocks into ``results/knn/<dataset>/<variant>/``
* ``run``           one (dataset, variant) in one process, without blocks (same files)

What every job will cost before running any: ``python -m ecgrepro.cost knn``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

log = logging.getLogger("ecgrepro")


def _ks(text):
    from ecgrepro.knn.core.vote import parse_ks

    return parse_ks(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ecgrepro.knn",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def block_args(p):
        p.add_argument("--npz", required=True, help="prepared dataset")
        p.add_argument("--block", type=int, required=True, help="0-based block index")
        p.add_argument("--n-blocks", type=int, required=True)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--out", required=True, help="block file (.npz)")

    p = sub.add_parser("window-block", help="window search, one block of training rows")
    block_args(p)
    p = sub.add_parser("window-gather", help="join window-search blocks")
    p.add_argument("--npz", required=True)
    p.add_argument("--blocks", nargs="+", required=True)
    p.add_argument("--out", required=True, help="window JSON")
    for name, helptext in (
        ("block", "k-NN, one block of test rows"),
        ("gather", "join k-NN blocks into the run directory"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "block":
            block_args(p)
        else:
            p.add_argument("--npz", required=True)
            p.add_argument("--blocks", nargs="+", required=True)
            p.add_argument("--threads", type=int, default=1)
            p.add_argument("--outdir", required=True)
            p.add_argument("--settings-json", help="ecgrepro.store.knn_settings as JSON")
        p.add_argument("--variant", required=True)
        p.add_argument("--ks", default="1-10")
        p.add_argument("--window", help="window JSON (variant learned)")
        if name == "block":
            p.add_argument(
                "--subset-max-cells",
                type=float,
                help="sktime-dtw: above n_test*n_train*L^2 cells, a subset",
            )
            p.add_argument("--subset-rows", type=int, help="sktime-dtw: subset size")
    p = sub.add_parser("run", help="k-NN for every k in one process (no blocks)")
    p.add_argument("--npz", required=True, help="prepared dataset")
    p.add_argument("--variant", required=True, help="e.g. aeon-dtw, learned, euclidean")
    p.add_argument("--ks", default="1-10", help="e.g. 1-10 or 1,3,5")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--outdir", required=True)
    return parser


def main(argv=None) -> int:
    from ecgrepro.errors import EcgreproError

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from ecgrepro.knn.jobs.run import run_knn

            metrics = run_knn(
                args.npz, args.variant, _ks(args.ks), args.threads, args.outdir
            )
            log.info("run: best k %s, accuracy %.4f", metrics["best_k"],
                     metrics["best_accuracy"])
            return 0
        from ecgrepro.knn.jobs import scatter

        if args.command == "window-block":
            done = scatter.window_block(
                args.npz, args.block, args.n_blocks, args.threads, args.out
            )
        elif args.command == "window-gather":
            done = scatter.window_gather(args.npz, args.blocks, args.out)["selected"]
        elif args.command == "block":
            done = scatter.knn_block(
                args.npz,
                args.variant,
                _ks(args.ks),
                args.block,
                args.n_blocks,
                args.threads,
                args.out,
                args.window,
                args.subset_max_cells,
                args.subset_rows,
            )
        else:
            metrics = scatter.knn_gather(
                args.npz,
                args.variant,
                _ks(args.ks),
                args.blocks,
                args.outdir,
                args.threads,
                args.window,
                settings=json.loads(args.settings_json) if args.settings_json else None,
            )
            done = {
                "best_k": metrics["best_k"],
                "best_accuracy": metrics["best_accuracy"],
            }
        log.info("%s: %s", args.command, done)
    except EcgreproError as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:  # a full disk outside the write helpers: one line still
        from ecgrepro.io import disk_full_error, is_disk_full

        if not is_disk_full(exc):
            raise
        where = exc.filename or getattr(args, "out", None) or args.outdir
        log.error("%s", disk_full_error(where, exc, atomic=False))
        return 1
    return 0
