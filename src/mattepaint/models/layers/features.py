"""Intermediate activations of an ``nn.Sequential`` in one forward pass.

:func:`sequential_features` runs a sequential stack (a discriminator's ``.net``, a critic branch)
and returns its output together with the outputs of its activation layers. The critics'
``forward_features`` use it, and the training objective compares those activations for real and
generated images (the L1 feature-matching loss of pix2pixHD, Wang et al., "High-Resolution Image
Synthesis and Semantic Manipulation with Conditional GANs", CVPR 2018;
:func:`mattepaint.losses.perceptual.feature_matching_loss`).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["sequential_features"]


def sequential_features(
    net: nn.Sequential,
    x: Tensor,
    layer_types: tuple[type[nn.Module], ...] = (nn.LeakyReLU, nn.ReLU),
) -> tuple[Tensor, list[Tensor]]:
    """Run an ``nn.Sequential`` and collect the outputs of its activation layers.

    Nested ``nn.Sequential`` children are walked into; any other child is one step. The output
    of every step that is an instance of ``layer_types`` is collected (e.g. each LeakyReLU of
    :class:`~mattepaint.models.discriminators.PatchDiscriminator`, whose stack is its ``.net``),
    so one pass gives both the logits for the adversarial loss and the features for
    :func:`mattepaint.losses.perceptual.feature_matching_loss`. Input checks of the discriminator's own ``forward`` are not
    run (call it on ``disc.net``).

    Inputs:
        net: the ``nn.Sequential`` (e.g. ``disc.net``).
        x: its input, e.g. (B, in_channels, H, W).
        layer_types: module classes whose outputs are collected.
    Outputs: (output of ``net``, list of the collected activations in order).
    Raises:
        TypeError for a ``net`` that is not an ``nn.Sequential`` or bad ``layer_types``;
        RuntimeError when a later in-place module changed a collected activation (e.g. an
        in-place activation right after another one), which would make the features wrong.
    """
    if not isinstance(net, nn.Sequential):
        raise TypeError(
            f"net must be an nn.Sequential (e.g. PatchDiscriminator(...).net), got "
            f"{type(net).__name__}"
        )
    types = (layer_types,) if isinstance(layer_types, type) else layer_types
    if (
        not isinstance(types, tuple)
        or not types
        or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types)
    ):
        raise TypeError(f"layer_types must be a tuple of nn.Module classes, got {layer_types!r}")
    collected: list[tuple[Tensor, int]] = []
    h = x
    for module in _flatten(net):
        h = module(h)
        if isinstance(module, types):
            collected.append((h, h._version))
    changed = [i for i, (t, version) in enumerate(collected) if t._version != version]
    if changed:
        raise RuntimeError(
            f"collected activations {changed} were modified in place by a later layer of net; "
            "make the following activation non-inplace"
        )
    return h, [t for t, _ in collected]


def _flatten(net: nn.Sequential) -> list[nn.Module]:
    steps: list[nn.Module] = []
    for child in net:
        steps += _flatten(child) if isinstance(child, nn.Sequential) else [child]
    return steps
