import numpy as np
import torch
from torch import nn

from rostro.data import read_celeba, read_folders
from rostro.data.sampling import identity_overlap
from rostro.data.synthetic import ATTRIBUTES, make_faces
from rostro.data.transforms import resize_square, to_float_tensor


def test_faces_and_attributes_are_seeded_and_consistent():
    a, fa = make_faces(40, size=(44, 54), seed=7)
    b, fb = make_faces(40, size=(44, 54), seed=7)
    assert a.shape == (40, 54, 44, 3) and np.array_equal(a, b) and fa.equals(fb)
    assert list(fa.columns) == ["identity", *ATTRIBUTES]
    hair = fa[["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"]].sum(axis=1)
    assert (hair == 1).all()
    assert not ((fa["Male"] == 0) & (fa["No_Beard"] == 0)).any(), "only the male cue carries a beard"
    per_id = fa.groupby("identity")[["Male", "Pale_Skin", "No_Beard"]].nunique()
    assert (per_id == 1).all().all(), "identity traits are fixed per person"


def test_layouts_read_back(celeba_dir, folders_dir):
    ds = read_celeba(celeba_dir)
    assert ds.labels == ATTRIBUTES and len(identity_overlap(ds)) == 0
    assert ds.frame["split"].nunique() == 3
    assert read_folders(folders_dir).labels == ["eyeglasses"]


def test_a_small_cnn_learns_them():
    torch.manual_seed(0)
    imgs, frame = make_faces(700, size=(64, 78), seed=0)
    x = to_float_tensor(np.stack([resize_square(i, 48) for i in imgs]))
    names = ["Eyeglasses", "Male", "Smiling"]
    y = torch.tensor(frame[names].to_numpy(), dtype=torch.float32)
    test = torch.tensor(frame["identity"].astype(int).to_numpy() % 5 == 0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 6 * 6, 64), nn.ReLU(), nn.Linear(64, len(names)),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    xtr, ytr = x[~test], y[~test]
    for _ in range(12):
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 32):
            idx = perm[i : i + 32]
            loss = nn.functional.binary_cross_entropy_with_logits(net(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = ((net(x[test]) > 0).float() == y[test]).float().mean(0)
    majority = torch.maximum(y[test].mean(0), 1 - y[test].mean(0))
    assert (acc > 0.9).all(), dict(zip(names, acc.tolist(), strict=True))
    assert (acc > majority + 0.2).all()
