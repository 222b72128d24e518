"""The REST service and its web page (``rostro serve``)."""
