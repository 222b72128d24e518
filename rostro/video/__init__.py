"""Video: decoding (PyAV), face tracking across frames and shot cuts, attributes and age per track,
an annotated copy and a report; see :mod:`rostro.commands.video`."""
