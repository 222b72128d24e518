"""Faces in photos: detection, landmarks, alignment, the face network and its chips."""
