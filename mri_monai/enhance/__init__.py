"""Image enhancement: super-resolution (:mod:`.degrade` and the ``sr_*`` modules)."""
