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
        net = self.net
        h = F.max_pool2d(F.relu(net.stem((x - net.mean) / 256)), 3, stride=2)
        parts = []
        for i, block in enumerate(net.blocks):
            h = block(h)
            if i in _STAGE_ENDS:
                parts.append(h.mean(dim=(2, 3)))
                if i in self._grid:
                    parts.append(F.avg_pool2d(h, self._grid[i]).flatten(1))
        parts.append(net.fc(h.mean(dim=(2, 3))))
        return torch.cat(parts, dim=1)

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
