"""MONAI Label's own virtual environment (``make monailabel-env``): its requirements and the one patch it needs.

Nothing here is imported by the project; ``requirements.txt`` and ``lazy_torchvision.py`` are used by the Makefile.
"""
