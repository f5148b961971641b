"""Make MONAI Label's one module-level torchvision import lazy, inside the MONAI Label virtual environment only.

monailabel 0.8.5 (and every earlier release back to 0.7) imports ``torchvision.utils`` at the top of
``monailabel/transform/post.py``, which the bundle infer task imports; torchvision is used there only by
``DumpImagePrediction2Dd`` (a 2D debugging writer that no bundle infer task runs). torchvision is not installed
in that environment: the only torchvision wheel for torch 2.13.0 (0.28.0) is a CUDA build whose compiled ops
cannot load beside the CPU torch wheel, so ``import torchvision`` fails with "operator torchvision::nms does
not exist".

This script replaces that single import line with MONAI's own ``optional_import`` (already imported by the
same module), which is how MONAI itself treats optional packages: the names resolve to stubs that raise only
when called. Nothing else changes, and no fake ``torchvision`` module appears that other code (MONAI's
``optional_import("torchvision")`` checks) could mistake for the real one. Run it with the environment's
python: ``.venv-monailabel/bin/python mri_monai/monailabel/lazy_torchvision.py``. It is idempotent and fails if
the file does not contain the expected line (another monailabel release: look again before patching).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ORIGINAL = "from torchvision.utils import make_grid, save_image\n"
LAZY = (
    "# patched by mri-monai mri_monai/monailabel/lazy_torchvision.py: torchvision only on use (2D debug writer)\n"
    'make_grid, _ = optional_import("torchvision.utils", name="make_grid")\n'
    'save_image, _ = optional_import("torchvision.utils", name="save_image")\n'
)


def post_module_path() -> Path:
    """Path of ``monailabel/transform/post.py`` in the running interpreter's environment (not imported)."""
    spec = importlib.util.find_spec("monailabel")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("monailabel is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations))) / "transform" / "post.py"


def patch(path: Path) -> bool:
    """Replace the torchvision import in ``path``; return False if it was already patched."""
    text = path.read_text()
    if LAZY in text:
        return False
    if text.count(ORIGINAL) != 1 or "optional_import" not in text:
        raise SystemExit(f"{path}: expected exactly one line {ORIGINAL.strip()!r}; not patching")
    path.write_text(text.replace(ORIGINAL, LAZY))
    return True


def main() -> None:
    """Patch the installed monailabel and say what was done."""
    path = post_module_path()
    done = patch(path)
    print(f"{path}: {'torchvision import made lazy' if done else 'already patched'}", file=sys.stderr)


if __name__ == "__main__":
    main()
