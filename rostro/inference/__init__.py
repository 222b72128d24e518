"""Inference: attributes for photos and crops (``predict``) and embeddings for datasets (``embed``).

Nothing here imports ``rostro.training``: a served or installed model needs only its run folder.
"""
