"""Inference: attributes for photos and crops (``predict``), embeddings for datasets (``embed``) and
where each attribute's evidence lies (``explain``).

Nothing here imports ``rostro.training``: a served or installed model needs only its run folder.
"""
