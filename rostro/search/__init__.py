"""Face search: galleries of named face vectors (a folder or Milvus), exact and approximate
nearest-neighbour search, and clustering of faces without labels."""

from rostro.search.gallery import FolderGallery, Gallery, Hit, Threshold, choose_threshold, new_meta, open_gallery

__all__ = ["FolderGallery", "Gallery", "Hit", "Threshold", "choose_threshold", "new_meta", "open_gallery"]
