"""``weightnet align REFERENCE FILE --out OUT``: permute FILE's hidden neurons to match REFERENCE.

OUT computes exactly FILE's function. The loss barrier between REFERENCE and FILE,
before and after, is measured on scikit-learn digits test images when the networks
read digits (64 inputs, or a 1-channel CNN, with 10 outputs; the test split of
the seed-0 digits zoos, :func:`weightnet.zoo.digits.load_digits_data`), otherwise on seeded
Gaussian inputs labelled by REFERENCE's argmax (MSE to REFERENCE's output for one-output
networks such as INRs).
"""

from __future__ import annotations

import argparse

from weightnet.predict_cli import ACTIVATION_CHOICES

__all__ = ["register"]

METHODS = ("weight-matching", "sort", "learned")
_GAUSSIAN_SAMPLES = 512
_GAUSSIAN_IMAGE = (8, 8)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``align`` subcommand."""
    parser = subparsers.add_parser(
        "align",
        help="permute a network's hidden neurons to match a reference (same function)",
        description="Write OUT: FILE's network with its hidden neurons (conv channels) permuted "
        "to match REFERENCE. OUT computes exactly FILE's function; the format follows OUT's "
        "extension (.pt, .pth, .safetensors). Methods: weight-matching (Git Re-Basin), sort "
        "(match neurons of equal rank in both networks' canonical orders), learned (a trained "
        "Deep-Align style aligner, --checkpoint; `python train.py task=alignment` writes one).",
    )
    parser.add_argument("reference", metavar="REFERENCE", help="state_dict to align to")
    parser.add_argument("file", metavar="FILE", help="state_dict to permute")
    parser.add_argument("--out", required=True, metavar="OUT", help="where to write the result")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="weight-matching",
        help="how to find the permutation (default weight-matching; see above)",
    )
    parser.add_argument(
        "--activation",
        choices=ACTIVATION_CHOICES,
        help="hidden activation of both networks, required unless a file records it (the "
        "barrier and the function check run the networks with it)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the layer order and inputs")
    parser.add_argument(
        "--max-sweeps", type=int, default=100, help="weight matching: most sweeps over the layers"
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="learned: the aligner (aligner.safetensors beside aligner.json, or their folder)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def _spec(state_dict, path, activation):
    from weightnet.errors import WeightnetError
    from weightnet.weightspace import SpecError, WeightSpec

    try:
        return WeightSpec.from_state_dict(state_dict, activation)
    except SpecError as err:
        raise WeightnetError(f"{path}: {err}") from None


def _activation(args, ref_activation, file_activation):
    """The hidden activation of both networks: recorded in their files or ``--activation``."""
    from weightnet.errors import WeightnetError
    from weightnet.predict_cli import chosen_activation

    chosen = {}
    for path, recorded in ((args.reference, ref_activation), (args.file, file_activation)):
        try:
            chosen[path] = chosen_activation(recorded, args.activation)
        except WeightnetError as err:
            raise WeightnetError(f"{path}: {err}") from None
    found = {a for a in chosen.values() if a is not None}
    if len(found) > 1:
        raise WeightnetError(
            f"{args.file}: records activation {chosen[args.file]}, {args.reference} "
            f"records {chosen[args.reference]}"
        )
    if not found:
        raise WeightnetError(
            f"{args.file}: the hidden activation is not recorded in the files; give it with "
            f"--activation ({', '.join(ACTIVATION_CHOICES)})"
        )
    return found.pop()


def _evaluation_data(spec, reference, seed):
    """Inputs, targets, loss name and a description for the barrier."""
    import torch

    from weightnet.functional import forward
    from weightnet.zoo.digits import load_digits_data

    first, n_out = spec.layers[0], spec.layers[-1].n_out
    reads_digits = (first.kind == "linear" and first.n_in == 64) or (
        first.kind == "conv" and first.n_in == 1
    )
    if reads_digits and n_out == 10:
        digits = load_digits_data(0)
        images = torch.from_numpy(digits.images[digits.test_indices])  # (N, 8, 8)
        x = images.reshape(len(images), 64) if first.kind == "linear" else images[:, None]
        y = torch.from_numpy(digits.labels[digits.test_indices])
        return x, y, "cross_entropy", f"sklearn-digits test split of seed-0 zoos ({len(y)} images)"
    shape = (first.n_in,) if first.kind == "linear" else (first.n_in, *_GAUSSIAN_IMAGE)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(_GAUSSIAN_SAMPLES, *shape, generator=gen)
    out = forward(spec, reference, x)[0]  # (N, n_out)
    if n_out == 1:
        return x, out, "mse", f"{_GAUSSIAN_SAMPLES} Gaussian inputs (seed {seed}), MSE to REFERENCE"
    desc = f"{_GAUSSIAN_SAMPLES} Gaussian inputs (seed {seed}), labels = REFERENCE's argmax"
    return x, out.argmax(dim=-1), "cross_entropy", desc


def run(args: argparse.Namespace) -> int:
    """Align, write OUT atomically, report the barriers; returns the exit code."""
    import json
    from pathlib import Path

    import torch

    from weightnet.align.barrier import loss_barrier
    from weightnet.align.matching import rank_matching, weight_matching
    from weightnet.errors import WeightnetError
    from weightnet.functional import forward
    from weightnet.io import STATE_DICT_SUFFIXES, load_network, save_state_dict
    from weightnet.weightspace import WeightSpace

    if args.method == "learned" and not args.checkpoint:
        raise WeightnetError("--method learned needs --checkpoint PATH (a trained aligner)")
    if Path(args.out).suffix.lower() not in STATE_DICT_SUFFIXES:
        raise WeightnetError(f"{args.out}: OUT needs a .pt, .pth or .safetensors extension")
    (ref_sd, ref_act), (file_sd, file_act) = map(load_network, (args.reference, args.file))
    activation = _activation(args, ref_act, file_act)
    ref_spec = _spec(ref_sd, args.reference, activation)
    spec = _spec(file_sd, args.file, activation)
    if [layer.shape for layer in ref_spec.layers] != [layer.shape for layer in spec.layers]:
        raise WeightnetError(
            f"{args.file}: architecture {spec.describe()} does not match "
            f"{args.reference} ({ref_spec.describe()})"
        )
    reference = WeightSpace.from_state_dicts(ref_spec, [ref_sd])
    other = WeightSpace.from_state_dicts(spec, [file_sd])
    if args.method == "sort":
        result = rank_matching(spec, reference, other)
    elif args.method == "learned":
        result = _learned(args.checkpoint, spec, args.file, reference, other)
    else:
        result = weight_matching(spec, reference, other, max_sweeps=args.max_sweeps, seed=args.seed)

    ref32, other32, aligned32 = (ws.to(torch.float32) for ws in (reference, other, result.aligned))
    x, y, loss, data = _evaluation_data(spec, ref32, args.seed)
    before = loss_barrier(spec, ref32, other32, x, y, loss=loss)
    after = loss_barrier(spec, ref32, aligned32, x, y, loss=loss)
    # the function check in float64, so that only a wrong permutation could show
    diff = (
        (
            forward(spec, result.aligned.to(torch.float64), x.double())
            - forward(spec, other.to(torch.float64), x.double())
        )
        .abs()
        .max()
    )
    save_state_dict(result.aligned.to_state_dicts(spec)[0], args.out, activation=activation)

    report = {
        "method": args.method,
        "reference": str(args.reference),
        "file": str(args.file),
        "out": str(args.out),
        "architecture": spec.describe(),
        "activation": activation,
        "spec": spec.to_dict(),
        "data": data,
        "loss": loss,
        "barrier_before": float(before.barrier[0]),
        "barrier_after": float(after.barrier[0]),
        "loss_reference": float(before.losses[0, 0]),
        "loss_file": float(before.losses[0, -1]),
        "max_function_diff": float(diff),
        "sweeps": result.sweeps,
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"wrote {args.out} ({args.method}): barrier {report['barrier_before']:.4f} -> "
            f"{report['barrier_after']:.4f} on {data}; max |f_out - f_file| = {diff:.2e}"
        )
    return 0


def _learned(checkpoint, spec, path, reference, other):
    """Align with the trained aligner at ``checkpoint`` (its spec must match FILE's)."""
    from weightnet.align.learned import learned_alignment
    from weightnet.align.matching import MatchResult
    from weightnet.align.saved import load_aligner
    from weightnet.errors import WeightnetError
    from weightnet.symmetry import permute

    model, stats = load_aligner(checkpoint)
    if [layer.shape for layer in model.spec.layers] != [layer.shape for layer in spec.layers]:
        raise WeightnetError(
            f"{path}: architecture {spec.describe()} differs from the one the aligner "
            f"{checkpoint} was trained on ({model.spec.describe()})"
        )
    ref_in, other_in = (ws.to(next(model.parameters()).dtype) for ws in (reference, other))
    if stats is not None:
        ref_in, other_in = stats.normalize(ref_in), stats.normalize(other_in)
    perms = learned_alignment(model, ref_in, other_in).permutations
    return MatchResult(perms, permute(other, perms))
