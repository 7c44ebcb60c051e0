"""``weightnet predict`` and ``weightnet pretrained``: run and list trained metanets (DESIGN 5.5).

Only argparse is imported at module level; the prediction path imports torch, the
metanet and safetensors, never Lightning or Hydra.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["ACTIVATION_CHOICES", "register", "chosen_activation"]

#: What ``--activation`` accepts (``predict`` and ``align``).
ACTIVATION_CHOICES = ("relu", "tanh", "sin", "leaky_relu", "gelu", "sigmoid")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` and ``pretrained`` subcommands."""
    predict = subparsers.add_parser(
        "predict",
        help="predict properties of networks (e.g. test accuracy) with a trained metanet",
        description="Run a metanet on state_dict files. CKPT is a shipped metanet's name "
        "(see `weightnet pretrained`), a .json/.safetensors metanet file, or a train.py "
        "Lightning .ckpt.",
    )
    predict.add_argument("--checkpoint", required=True, metavar="CKPT", help="the metanet")
    predict.add_argument(
        "files", nargs="+", metavar="FILE", help="state_dicts (.pt, .pth, .safetensors)"
    )
    predict.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list: per file its prediction, activation, spec and in_domain",
    )
    predict.add_argument(
        "--activation",
        choices=ACTIVATION_CHOICES,
        help="hidden activation of networks whose file does not record it (required then, "
        "unless the metanet was trained on one activation only)",
    )
    predict.add_argument(
        "--input-scale",
        metavar="FRAME",
        help="the inputs the networks were trained on, folded exactly into their first layer: "
        "x/16 (the digits zoos', the default), raw (pixel values 0-16), standardized "
        "(StandardScaler on the digits training images), or a number s (s * raw)",
    )
    predict.set_defaults(func=_predict)
    listing = subparsers.add_parser(
        "pretrained", help="list the shipped metanets", description="List the shipped metanets."
    )
    listing.add_argument("--json", action="store_true", help="print their JSON descriptions")
    listing.set_defaults(func=_list)


def chosen_activation(recorded: str | None, given: str | None) -> str | None:
    """The activation to read a file with: the one it records, or ``--activation``.

    Raises:
        WeightnetError: the file records another activation than ``--activation`` says.
    """
    from weightnet.errors import WeightnetError

    if recorded is not None and given is not None and recorded != given:
        raise WeightnetError(
            f"the file records activation {recorded}, but --activation says {given}"
        )
    return recorded or given


def _predict(args: argparse.Namespace) -> int:
    import sys

    from weightnet.errors import WeightnetError
    from weightnet.io import load_network
    from weightnet.pretrained import load_pretrained

    metanet = load_pretrained(args.checkpoint)
    states, reports = [], []
    for file in args.files:
        state, recorded = load_network(file)
        try:
            if args.input_scale is not None:
                state = metanet.in_input_frame(state, args.input_scale)
            reports.append(metanet.examine(state, chosen_activation(recorded, args.activation)))
        except WeightnetError as err:
            raise WeightnetError(f"{file}: {err}") from None
        states.append(state)
    predictions = metanet.predict(states, [r.activation for r in reports])
    outside = [(f, r) for f, r in zip(args.files, reports, strict=True) if not r.in_domain]
    if outside:
        shown = "; ".join(f"{f}: {r.reason}" for f, r in outside[:3])
        more = f"; and {len(outside) - 3} more" if len(outside) > 3 else ""
        print(
            f"weightnet: warning: {len(outside)} of {len(reports)} networks lie outside "
            f"{metanet.name}'s training domain, their predictions are extrapolations "
            f"({shown}{more})",
            file=sys.stderr,
        )
    if args.json:
        rows = zip(args.files, predictions, reports, strict=True)
        frame = {}
        if metanet.reads.input_scale == 1 / 16:  # the digits zoos' frame
            frame = {"input_scale": args.input_scale or "x/16"}
        print(
            json.dumps([{"file": f, "prediction": p, **r.to_dict(), **frame} for f, p, r in rows])
        )
        return 0
    width = max(len(f) for f in args.files)
    for file, pred, report in zip(args.files, predictions, reports, strict=True):
        text = f"{pred:.4f}" if isinstance(pred, float) else f"class {pred['class']}"
        flag = "" if report.in_domain else "  (outside the training domain)"
        print(f"{file:<{width}}  {text}{flag}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from weightnet.pretrained import list_pretrained

    metas = list_pretrained()
    if args.json:
        print(json.dumps(metas, indent=1))
        return 0
    if not metas:
        print("no shipped metanets")
        return 0
    for meta in metas:
        quality = meta.get("quality", {})
        scores = ", ".join(
            f"{k.split('/', 1)[-1]} {v:.3f}"
            for k, v in quality.items()
            if k.startswith("test/") and isinstance(v, float) and k.count("/") == 1
        )
        data = meta.get("training_data", {})
        print(f"{meta['name']}: {meta.get('description') or meta['reads']['description']}")
        print(f"  model: {meta['model']['class']}, {meta['num_parameters']:,} parameters, "
              f"{meta['file_bytes'] / 1024:.0f} KiB ({Path(meta['name']).name}.safetensors)")  # fmt: skip
        print(f"  trained on: {data.get('zoo_recipe')} zoo, {data.get('num_models')} runs, "
              f"{len(data.get('architectures', []))} architectures, seed {data.get('seed')}")  # fmt: skip
        print(f"  held-out quality: {scores}")
        print(f"    on: {quality.get('split', 'the test split')}")
    return 0
