"""dlib's face network as a trunk for attribute heads and transfer (``create_model("dlib_resnet")``).

The network was trained on about 3 M faces for identity; its last 128 numbers have lost
expression, hair and accessories, but its earlier stages have not (frozen, on the validation
split: Smiling 0.905 from every stage's pooled features against 0.70 from the 128-d vector).
So the trunk hands the head pooled features of every stage as well as the descriptor, and its
blocks can be frozen and unfrozen one by one like any rostro trunk.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rostro.faces.dlib_resnet import BLOCKS, CHIP_SIZE, EMBEDDING_DIM, DlibResNet, face_network_weights
from rostro.models.cnn import TrunkHeadNet
from rostro.models.registry import register_model

# the last block of each stage (before the next down-sampling block, and the very last)
_STAGE_ENDS = [i for i in range(len(BLOCKS)) if i + 1 == len(BLOCKS) or BLOCKS[i + 1][1]]
_GRID_FROM = 128  # stages this wide also give a 2 x 2 grid of means (upper/lower, left/right face)


class FaceTrunk(nn.Module):
    """Chips (0..255 floats, N x 3 x 150 x 150) -> every stage's pooled features and the descriptor."""

    def __init__(self, net: DlibResNet):
        super().__init__()
        self.net = net
        # the 2 x 2 grid as a fixed average pool (the chip size is fixed: 8 and 4 and 2 pixels), which ONNX exports
        self._grid = {i: net.blocks[i].size // 2 for i in _STAGE_ENDS if BLOCKS[i][0] >= _GRID_FROM}
        self.feature_dim = EMBEDDING_DIM + sum(
            BLOCKS[i][0] * (5 if BLOCKS[i][0] >= _GRID_FROM else 1) for i in _STAGE_ENDS
        )

    def forward(self, x: Tensor) -> Tensor:
        h, parts = self._blocks(self._stem(x), range(len(BLOCKS)), [])
        return torch.cat([parts, self.net.fc(h.mean(dim=(2, 3)))], dim=1)

    def _stem(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.relu(self.net.stem((x - self.net.mean) / 256)), 3, stride=2)

    def prefix(self, x: Tensor, blocks: int) -> tuple[Tensor, Tensor]:
        """The stem and the first ``blocks`` (>= 3) residual blocks: the activation they hand on and
        the pooled features of the stages they end. A frozen prefix is run once per face and cached."""
        return self._blocks(self._stem(x), range(blocks), [])

    def suffix(self, h: Tensor, parts: Tensor, blocks: int) -> Tensor:
        """The rest of the trunk after ``prefix(x, blocks)``: every stage's features and the descriptor."""
        h, later = self._blocks(h, range(blocks, len(BLOCKS)), [parts])
        return torch.cat([later, self.net.fc(h.mean(dim=(2, 3)))], dim=1)

    def _blocks(self, h: Tensor, which: range, parts: list[Tensor]) -> tuple[Tensor, Tensor]:
        for i in which:
            h = self.net.blocks[i](h)
            if i in _STAGE_ENDS:
                parts.append(h.mean(dim=(2, 3)))
                if i in self._grid:
                    parts.append(F.avg_pool2d(h, self._grid[i]).flatten(1))
        return h, torch.cat(parts, dim=1)

    def trunk_blocks(self) -> list[nn.Module]:
        """Stem, each residual block, the descriptor layer: the units frozen and unfrozen in transfer."""
        return [self.net.stem, *self.net.blocks, self.net.fc]


@register_model(input_size=CHIP_SIZE, mean=0.0, std=1 / 255)
def dlib_resnet(
    num_outputs: int = 40, input_size: int = CHIP_SIZE, pretrained: bool = True, hidden: int = 512,
    dropout: float = 0.2,
) -> TrunkHeadNet:  # fmt: skip
    """dlib's face-recognition ResNet (weights from face-recognition-models) with a head on every stage."""
    if input_size != CHIP_SIZE:
        raise ValueError(f"dlib_resnet takes its {CHIP_SIZE}-px chip: expected input_size {CHIP_SIZE}, found "
                         f"{input_size}; drop --input-size or set it to {CHIP_SIZE}")  # fmt: skip
    net = DlibResNet()
    if pretrained:
        net.load_state_dict(face_network_weights())
    trunk = FaceTrunk(net)
    layers: list[nn.Module] = [nn.Dropout(dropout)]
    if hidden:
        layers += [nn.Linear(trunk.feature_dim, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
    head = nn.Sequential(*layers, nn.Linear(hidden or trunk.feature_dim, num_outputs))
    return TrunkHeadNet(trunk, head, trunk.feature_dim)
