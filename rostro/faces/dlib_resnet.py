"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) as a PyTorch module.

dlib runs this network in its own C++ code (about 17 faces/s on two cores); the same network
in PyTorch or exported to ONNX runs several times faster and gives the same 128-d vectors
(within 1e-5 per component), jittered ones included (:func:`jitter_chips`). The file is read
in pure Python following dlib's serialization (dlib/serialize.h, dlib/dnn/core.h, layers.h,
input.h, loss.h), and every layer name, setting and shape is checked against the network
that examples/dnn_face_recognition_ex.cpp defines, so any other file is refused at the
first byte that differs.
"""

from __future__ import annotations

import hashlib
import io
import math
from functools import cache
from pathlib import Path
from typing import NamedTuple, NoReturn

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rostro.errors import RostroError
from rostro.faces.models import model_file
from rostro.files import atomic_write_bytes, user_cache_dir

CHIP_SIZE = 150
EMBEDDING_DIM = 128
# (channels, down-sampling) per residual block, input side first (dlib's alevel4 ... alevel0)
BLOCKS = [(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2
BLOCKS += [(256, True)] + [(256, False)] * 2 + [(256, True)]


class _Layer(NamedTuple):
    """One entry of dlib's network, innermost first: a layer (``kind`` is dlib's record name) or a tag/skip."""

    kind: str
    name: str = ""
    cin: int = 0
    cout: int = 0
    size: int = 0
    stride: int = 1


_TAG = _Layer("tag")  # tag1/tag2/skip1 wrappers: they only write their version, 1


def _architecture() -> list[_Layer]:
    """dlib's ``anet_type``, innermost first, with the PyTorch names of the layers that hold parameters."""
    layers = [_Layer("con_4", "stem", 3, 32, 7, 2), _Layer("affine_", "stem", cout=32), _Layer("relu_")]
    layers.append(_Layer("max_pool_2", size=3, stride=2))
    cin = 32
    for i, (cout, down) in enumerate(BLOCKS):
        conv1, conv2 = f"blocks.{i}.conv1", f"blocks.{i}.conv2"
        layers += [_TAG, _Layer("con_4", conv1, cin, cout, 3, 2 if down else 1), _Layer("affine_", conv1, cout=cout)]
        layers += [_Layer("relu_"), _Layer("con_4", conv2, cout, cout, 3, 1), _Layer("affine_", conv2, cout=cout)]
        if down:  # add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<tag1<...>>>>>>
            layers += [_TAG, _TAG, _Layer("avg_pool_2", size=2, stride=2)]
        layers += [_Layer("add_prev_"), _Layer("relu_")]
        cin = cout
    return layers + [_Layer("avg_pool_2"), _Layer("fc_2", "fc", 256, EMBEDDING_DIM)]


class _Reader:
    """dlib's serialization format over bytes; anything unexpected is a RostroError naming its byte offset."""

    def __init__(self, data: bytes, source: str):
        self.data, self.source, self.pos = data, source, 0

    def fail(self, expected: str, found: str, at: int) -> NoReturn:
        raise RostroError(f"{self.source}: expected {expected} at byte {at}, found {found}")

    def take(self, n: int, expected: str) -> bytes:
        if self.pos + n > len(self.data):
            self.fail(expected, f"the end of the file ({len(self.data)} bytes)", self.pos)
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def integer(self, expected: str, max_bytes: int = 8) -> int:
        """A control byte (0x80: negative, low 4 bits: byte count), then the magnitude little-endian."""
        start = self.pos
        control = self.take(1, expected)[0]
        size = control & 0x0F
        if control & 0x70 or not 1 <= size <= max_bytes:
            self.fail(expected, f"byte 0x{control:02x}, which does not start an integer", start)
        value = int.from_bytes(self.take(size, expected), "little")
        return -value if control & 0x80 else value

    def expect(self, value: int, what: str) -> None:
        start = self.pos
        found = self.integer(f"{what} {value}")
        if found != value:
            self.fail(f"{what} {value}", str(found), start)

    def boolean(self, expected: str) -> bool:
        start = self.pos
        char = self.take(1, expected)
        if char not in (b"0", b"1"):
            self.fail(expected, f"byte 0x{char[0]:02x}", start)
        return char == b"1"

    def string(self, value: str, what: str) -> None:
        """A length, then that many bytes, which must spell ``value``."""
        start = self.pos
        expected = f"{what} {value!r}"
        size = self.integer(expected)
        if size < 0 or self.pos + size > len(self.data):
            self.fail(expected, f"a string length of {size} with {len(self.data) - self.pos} bytes left", start)
        found = self.take(size, expected).decode("latin-1")
        if found != value:
            shown = found if len(found) <= 40 else found[:40] + "..."
            self.fail(expected, repr(shown), start)

    def real(self, expected: str) -> float:
        """A float as mantissa (int64) then binary exponent (int16); exponents 32000-32002 are inf, -inf, NaN."""
        mantissa, exponent = self.integer(expected), self.integer(expected, max_bytes=2)
        special = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        if exponent in special:
            return special[exponent]
        try:
            return math.ldexp(mantissa, exponent)
        except OverflowError:  # std::ldexp gives an infinity
            return math.copysign(math.inf, mantissa)

    def dims(self, version: int, what: str, shape: tuple[int, ...] | None) -> tuple[int, ...]:
        start = self.pos
        self.expect(version, f"{what}: tensor version")
        dims = tuple(self.integer(f"{what}: tensor dimension") for _ in range(4))
        if (shape is not None and dims != shape) or min(dims) < 0:
            self.fail(f"{what} of shape {shape or 'n, k, nr, nc >= 0'}", f"shape {dims}", start)
        return dims

    def tensor(self, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Version 2, the four dimensions, then their product of little-endian float32."""
        dims = self.dims(2, what, shape)
        count = math.prod(dims)
        return np.frombuffer(self.take(4 * count, f"{count} float32 values of {what}"), "<f4").reshape(dims)

    def alias(self, what: str, shape: tuple[int, ...]) -> None:
        """An alias tensor (a view into the layer's parameters): version 1 and its four dimensions, no data."""
        self.dims(1, what, shape)

    def end(self) -> None:
        if self.pos != len(self.data):
            self.fail("the end of the file", f"{len(self.data) - self.pos} more bytes", self.pos)


def _read_layer(r: _Reader, layer: _Layer, where: str, out: dict[str, torch.Tensor]) -> None:
    """One layer's own record (dlib's ``serialize(details)``), its parameters into ``out``."""
    r.string(layer.kind, f"{where}: name")
    name, cout = layer.name, layer.cout
    if layer.kind == "con_4":
        k, stride = layer.size, layer.stride
        weights = cout * layer.cin * k * k
        params = r.tensor(f"the parameters of {where}", (weights + cout, 1, 1, 1)).ravel()
        pad = 0 if stride != 1 else k // 2
        settings = ("num_filters", cout), ("nr", k), ("nc", k), ("stride_y", stride), ("stride_x", stride)
        for what, value in (*settings, ("padding_y", pad), ("padding_x", pad)):
            r.expect(value, f"{where}: {what}")
        r.alias(f"the filters of {where}", (cout, layer.cin, k, k))
        r.alias(f"the biases of {where}", (1, cout, 1, 1))
        for _ in range(4):
            r.real(f"{where}: a learning-rate or weight-decay multiplier")
        out[f"{name}.weight"] = torch.from_numpy(params[:weights].reshape(cout, layer.cin, k, k).copy())
        out[f"{name}.bias"] = torch.from_numpy(params[weights:].copy())
    elif layer.kind == "affine_":
        params = r.tensor(f"the parameters of {where}", (2 * cout, 1, 1, 1)).ravel()
        r.alias(f"the gamma of {where}", (1, cout, 1, 1))
        r.alias(f"the beta of {where}", (1, cout, 1, 1))
        r.expect(0, f"{where}: mode (CONV_MODE)")
        out[f"{name}.gamma"] = torch.from_numpy(params[:cout].copy())
        out[f"{name}.beta"] = torch.from_numpy(params[cout:].copy())
    elif layer.kind in ("max_pool_2", "avg_pool_2"):
        pad = 0 if layer.stride != 1 else layer.size // 2
        settings = ("nr", layer.size), ("nc", layer.size), ("stride_y", layer.stride), ("stride_x", layer.stride)
        for what, value in (*settings, ("padding_y", pad), ("padding_x", pad)):
            r.expect(value, f"{where}: {what}")
    elif layer.kind == "fc_2":
        r.expect(cout, f"{where}: num_outputs")
        r.expect(layer.cin, f"{where}: num_inputs")
        params = r.tensor(f"the weights of {where}", (layer.cin, cout, 1, 1))
        r.alias(f"the weights of {where}", (layer.cin, cout, 1, 1))
        r.alias(f"the biases of {where}", (0, 0, 0, 0))
        r.expect(1, f"{where}: bias mode (FC_NO_BIAS)")
        for _ in range(4):
            r.real(f"{where}: a learning-rate or weight-decay multiplier")
        out[f"{name}.weight"] = torch.from_numpy(params.reshape(layer.cin, cout).T.copy())  # dlib: [in, out]


def _parse(data: bytes, source: str) -> dict[str, torch.Tensor]:
    r = _Reader(data, source)
    r.expect(1, "add_loss_layer version")
    r.string("loss_metric_2", "the loss layer's name")
    r.real("the loss margin")
    r.real("the loss distance threshold")
    net = _architecture()
    # add_layer/add_tag_layer/add_skip_layer write their version, then their subnetwork, then their own record
    for j, i in enumerate(reversed(range(len(net)))):
        tag = net[i].kind == "tag"
        what = f"wrapper {j + 1} of {len(net)} (outermost first): {'tag/skip' if tag else 'add_layer'} version"
        r.expect(1 if tag else 3 if i == 0 else 2, what)
    r.string("input_rgb_image_sized", "the input layer's name")
    mean = [r.real("a channel mean of the input layer") for _ in range(3)]
    r.expect(CHIP_SIZE, "input rows")
    r.expect(CHIP_SIZE, "input columns")
    out = {"mean": torch.tensor(mean, dtype=torch.float32).reshape(1, 3, 1, 1)}
    layers = [layer for layer in net if layer.kind != "tag"]
    for i, layer in enumerate(layers):
        where = f"layer {i + 1} of {len(layers)} ({' '.join(filter(None, (layer.kind, layer.name)))})"
        _read_layer(r, layer, where, out)
        for state in ("this_layer_setup_called", "gradient_input_is_stale", "output_and_gradient_disabled"):
            r.boolean(f"{where}: the flag {state} ('0' or '1')")
        for state in ("x_grad", "cached_output", "params_grad"):
            r.tensor(f"{where}: {state}")
        if i == 0:  # the add_layer over the input layer (version 3) also writes its sample expansion factor
            r.expect(1, f"{where}: sample expansion factor")
    r.end()
    return out


def read_dlib_layers(path: str | Path) -> dict[str, torch.Tensor]:
    """Every parameter of dlib's file in PyTorch's layout, affines unfolded (``<conv>.gamma``/``.beta``).

    Also ``mean``: the input layer's channel means. Refuses (RostroError) any other file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RostroError(f"cannot read dlib's face network {path}: {e}") from None
    return _parse(data, str(path))


def _fold(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict of :class:`DlibResNet`: each affine folded into the convolution before it."""
    state = {}
    for key, value in raw.items():
        prefix, _, field = key.rpartition(".")
        if field in ("gamma", "beta"):
            continue
        gamma, beta = raw.get(f"{prefix}.gamma"), raw.get(f"{prefix}.beta")
        if gamma is None:
            state[key] = value
        elif field == "weight":
            state[key] = value * gamma.reshape(-1, 1, 1, 1)
        else:
            state[key] = (value.double() * gamma.double() + beta.double()).float()
    return state


def read_dlib_resnet(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict for :class:`DlibResNet` from dlib's ``dlib_face_recognition_resnet_model_v1.dat``."""
    return _fold(read_dlib_layers(path))


class _Block(nn.Module):
    """dlib's ``ares``/``ares_down``: relu(add_prev(affine(conv(relu(affine(conv(x))))), skip)).

    dlib's add_prev adds tensors of different shapes by zero-extending each at the end of
    every dimension: the skip fills the first channels when they grow, and where a stride-2
    3x3 convolution gives fewer pixels than the 2x2 average pool (8 -> 3 vs 4, 4 -> 1 vs 2)
    the convolution lands top-left. The pads are fixed here, since the chip size is fixed,
    so ONNX export sees constants.
    """

    def __init__(self, cin: int, cout: int, size: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        conv_size, skip_size = ((size - 3) // 2 + 1, size // 2) if down else (size, size)
        self.size = max(conv_size, skip_size)
        self.conv_pad = (0, self.size - conv_size) * 2
        self.skip_pad = (0, self.size - skip_size) * 2 + (0, cout - cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        skip = F.avg_pool2d(x, 2) if self.down else x
        if any(self.conv_pad):
            y = F.pad(y, self.conv_pad)
        if any(self.skip_pad):
            skip = F.pad(skip, self.skip_pad)
        return F.relu(y + skip)


class DlibResNet(nn.Module):
    """dlib's face-recognition network: N x 3 x 150 x 150 RGB chips (0..255 floats) -> N x 128 descriptors.

    The input normalisation, (pixel - mean) / 256, happens inside so that an ONNX export
    carries it; the descriptors are not normalised, like dlib's. Convolutions carry their
    folded affine layers (one layer fewer to run).
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        size, cin, blocks = ((CHIP_SIZE - 7) // 2 + 1 - 3) // 2 + 1, 32, []
        for cout, down in BLOCKS:
            blocks.append(_Block(cin, cout, size, down))
            cin, size = cout, blocks[-1].size
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, EMBEDDING_DIM, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem((x - self.mean) / 256)), 3, stride=2)
        return self.fc(self.blocks(x).mean(dim=(2, 3)))


def weights_digest(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256: the name of what is derived from it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def face_network_weights(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """:func:`read_dlib_resnet`, converted once and kept in ``<cache>/rostro/dlib/<sha256[:16]>.pt``.

    The cache is named by the file's content, so a changed file is converted again; a cache
    that cannot be written (or read back) costs only the conversion (about a second).
    """
    path = Path(path) if path is not None else model_file("resnet")
    try:
        file = user_cache_dir("dlib", f"{weights_digest(path.resolve())}.pt")
    except OSError as e:
        raise RostroError(f"cannot read dlib's face network {path}: {e}") from None
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception:  # absent, unreadable or damaged: convert again
        pass
    state = read_dlib_resnet(path)
    buf = io.BytesIO()
    torch.save(state, buf)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(file, buf.getvalue())
    except OSError:
        pass
    return state


@cache
def _network(path: Path) -> DlibResNet:
    net = DlibResNet()
    net.load_state_dict(face_network_weights(path))
    return net.eval().requires_grad_(False)


def load_face_network(path: str | Path | None = None) -> DlibResNet:
    """dlib's face network in PyTorch, in eval mode; one instance per file and process, shared by callers."""
    return _network(Path(path or model_file("resnet")).resolve())


class DlibRand:
    """A default-constructed dlib::rand (dlib/rand/rand_kernel_1.h): mt19937, primed as dlib does, and its doubles.

    Each ``face_recognition_model_v1`` owns one, default-seeded, that every jittered
    descriptor advances; keep one per dlib model object to reproduce its jitters.
    """

    _MAX = ((float(0xFFFFFF) * 0x1000000) + 0xFFFFFF) + 0.05  # computed in dlib's order

    def __init__(self):
        key = [5489]  # dlib::rand(): mersenne_twister::seed()
        for i in range(1, 624):
            key.append((1812433253 * (key[-1] ^ (key[-1] >> 30)) + i) & 0xFFFFFFFF)
        self._mt = np.random.MT19937(0)
        self._mt.state = {"bit_generator": "MT19937", "state": {"key": np.array(key, np.uint32), "pos": 624}}
        self._mt.random_raw(10000)  # "prime the generator a bit"

    def random_double(self) -> float:
        """48 random bits (24 of each of two draws) over just above 2**48: [0, 1)."""
        high, low = (int(v) & 0xFFFFFF for v in self._mt.random_raw(2))
        value = (float(high) * 0x1000000 + low) / self._MAX
        return value if value < 1.0 else 1.0 - 2.0**-52

    def uniform(self, begin: float, end: float) -> float:
        """dlib::rand::get_double_in_range."""
        return begin + self.random_double() * (end - begin)


def _rotated_corners(left: float, top: float, right: float, bottom: float, angle: float) -> list[tuple[float, float]]:
    """rotate_point(center(rect), corner, angle) for the top-left, top-right, bottom-left, bottom-right corners."""
    sin, cos = math.sin(angle), math.cos(angle)
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    corners = (left, top), (right, top), (left, bottom), (right, bottom)
    return [(cos * (x - cx) - sin * (y - cy) + cx, sin * (x - cx) + cos * (y - cy) + cy) for x, y in corners]


def _lround(value: float) -> int:
    """std::lround of a value >= 0: halves go up."""
    whole = math.floor(value)
    return whole + (value - whole >= 0.5)


def _jitter(chip: np.ndarray, rnd: DlibRand) -> np.ndarray:
    """dlib::jitter_image (dlib/image_transforms/interpolation.h), draw for draw and operation for operation.

    A random shift (up to 2%), zoom (object 97-100% of the chip) and rotation (up to 3
    degrees) of the chip, then a mirror image half the time. The crop is cut as
    extract_image_chips does: bilinear interpolation in float64 with the same operation
    order, truncated to uint8, and black outside a bounding box of the rotated crop.
    """
    n = chip.shape[0]
    size = n - 6  # the object: shrink_rect(get_rect(img), 3)
    # dpoint(x draw, y draw): GCC evaluates the arguments right to left, so y is drawn first
    dy = rnd.uniform(-0.02, 0.02) * size
    dx = rnd.uniform(-0.02, 0.02) * size
    box = int(size / rnd.uniform(0.97, 0.99999))
    left = n // 2 + math.floor(dx + 0.5) - box // 2  # centered_rect(center(rect) + point(shift), box, box)
    top = n // 2 + math.floor(dy + 0.5) - box // 2
    angle = rnd.uniform(-3, 3) * math.pi / 180
    right, bottom = left + box - 1, top + box - 1
    # extract_image_chips: interpolate within the rotated crop's bounding box (grown by 2, clipped, rounded)
    xs, ys = zip(*_rotated_corners(left, top, right, bottom, angle), strict=True)
    x0, y0 = _lround(max(min(xs) - 2, 0.0)), _lround(max(min(ys) - 2, 0.0))
    x1, y1 = _lround(min(max(xs) + 2, n - 1.0)), _lround(min(max(ys) + 2, n - 1.0))
    window = chip[y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)
    corners = _rotated_corners(left - x0, top - y0, right - x0, bottom - y0, angle)
    (tlx, tly), (trx, try_), (blx, bly), _ = corners
    # the affine map from the chip's corners (0, 0), (n-1, 0), (0, n-1) to the rotated ones, applied as m*p + b
    rows, cols = np.mgrid[0:n, 0:n].astype(np.float64)
    px = ((trx - tlx) / (n - 1) * cols + (blx - tlx) / (n - 1) * rows) + tlx
    py = ((try_ - tly) / (n - 1) * cols + (bly - tly) / (n - 1) * rows) + tly
    fx, fy = np.floor(px), np.floor(py)
    inside = (fx >= 0) & (fy >= 0) & (fx + 1 < window.shape[1]) & (fy + 1 < window.shape[0])
    c, r = np.where(inside, fx, 0).astype(np.intp), np.where(inside, fy, 0).astype(np.intp)
    lr, tb = (px - fx)[..., None], (py - fy)[..., None]
    value = (1 - tb) * ((1 - lr) * window[r, c] + lr * window[r, c + 1])
    value = value + tb * ((1 - lr) * window[r + 1, c] + lr * window[r + 1, c + 1])
    crop = np.where(inside[..., None], value, 0).astype(np.uint8)  # vector_to_pixel truncates
    if rnd.random_double() > 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def jitter_chips(chip: np.ndarray, n: int, rnd: DlibRand) -> np.ndarray:
    """The ``n`` jittered copies (n x H x W x 3 uint8) that dlib averages for ``num_jitters=n``.

    ``compute_face_descriptor(chip, n)`` is the mean of the network's vectors of these crops
    when ``rnd`` has made the same draws as the model object's (a fresh model: ``DlibRand()``).
    dlib jitters only when n > 1; a single crop is the chip itself.
    """
    if chip.ndim != 3 or chip.shape[2] != 3 or chip.shape[0] != chip.shape[1] or chip.dtype != np.uint8:
        raise ValueError(f"jitter_chips needs a square HxWx3 uint8 chip, got {chip.shape} {chip.dtype}")
    return np.stack([_jitter(chip, rnd) for _ in range(n)]) if n > 0 else np.zeros((0, *chip.shape), np.uint8)
