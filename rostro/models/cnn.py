"""rostro's networks. Each splits into ``trunk`` (image -> features) and ``head`` (features ->
logits), so transfer learning swaps the head and freezes the trunk."""

from __future__ import annotations

from torch import Tensor, nn

from rostro.models.registry import register_model


class TrunkHeadNet(nn.Module):
    """A trunk and a head; ``features`` gives the penultimate vector used as an embedding."""

    def __init__(self, trunk: nn.Module, head: nn.Module, feature_dim: int):
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.feature_dim = feature_dim

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x))

    def replace_head(self, num_outputs: int, dropout: float = 0.2) -> None:
        """A fresh linear head for a new task (transfer learning)."""
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.feature_dim, num_outputs))

    def trunk_blocks(self) -> list[nn.Module]:
        """The trunk's blocks with weights, in order, so the last few can be unfrozen.

        Layers without parameters (activations, pooling, flatten) are not blocks, and a
        batch norm belongs to the layer before it. A trunk that knows its own blocks says so.
        """
        if hasattr(self.trunk, "trunk_blocks"):
            return self.trunk.trunk_blocks()
        blocks: list[list[nn.Module]] = []
        for child in self.trunk.children():
            if not any(True for _ in child.parameters()):
                continue
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and blocks:
                blocks[-1].append(child)
            else:
                blocks.append([child])
        return [b[0] if len(b) == 1 else nn.ModuleList(b) for b in blocks]


def _conv_bn(cin: int, cout: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


@register_model(input_size=64)
def small_cnn(num_outputs: int = 1, input_size: int = 64, width: int = 32, dropout: float = 0.3) -> TrunkHeadNet:
    """Four conv/pool blocks and a dense head: the seed reports' eyeglasses network."""
    if input_size % 16:
        raise ValueError(f"small_cnn needs an input size divisible by 16, got {input_size}")
    chans = [3, width, width * 2, width * 4, width * 4]
    blocks = [nn.Sequential(_conv_bn(chans[i], chans[i + 1]), nn.MaxPool2d(2)) for i in range(4)]
    side = input_size // 16
    dim = 128
    trunk = nn.Sequential(
        *blocks,
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(chans[-1] * side * side, dim),
        nn.ReLU(inplace=True),
    )
    head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_outputs))
    return TrunkHeadNet(trunk, head, dim)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: expand 1x1, depthwise 3x3, project 1x1; identity shortcut when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4):
        super().__init__()
        mid = cin * expand
        self.block = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU6(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return x + out if self.residual else out


@register_model(input_size=64, any_size=True)
def attr_net(
    num_outputs: int = 40,
    input_size: int = 64,
    widths: tuple[int, ...] = (32, 64, 128, 256),
    depths: tuple[int, ...] = (1, 2, 3, 2),
    dropout: float = 0.2,
) -> TrunkHeadNet:
    """A MobileNetV2-style multi-label network for all 40 CelebA attributes (~1 M parameters).

    The trunk ends in 2x2 average pooling rather than 1x1, so the head still knows whether a
    cue sits in the upper or lower face (eyeglasses, beard, smile).
    """
    if len(widths) != len(depths):
        raise ValueError(f"widths and depths must have the same length, got {widths} and {depths}")
    layers: list[nn.Module] = [_conv_bn(3, widths[0], stride=2)]
    cin = widths[0]
    for i, (w, d) in enumerate(zip(widths, depths, strict=True)):
        for j in range(d):
            layers.append(InvertedResidual(cin, w, stride=2 if j == 0 and i > 0 else 1))
            cin = w
    layers += [nn.Conv2d(cin, cin * 2, 1, bias=False), nn.BatchNorm2d(cin * 2), nn.ReLU6(inplace=True)]
    layers += [nn.AdaptiveAvgPool2d(2), nn.Flatten()]
    dim = cin * 2 * 4
    head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_outputs))
    return TrunkHeadNet(nn.Sequential(*layers), head, dim)
