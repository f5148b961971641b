"""Image pool (history of generated images) for discriminator updates (Shrivastava et al. 2017)."""

from __future__ import annotations

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """A buffer of previously generated images; the discriminator sees a mix of new and older fakes.

    Shrivastava et al., "Learning from Simulated and Unsupervised Images through Adversarial Training",
    CVPR 2017, as used by CycleGAN (pool of 50). For each image of a query batch: while the pool is not full
    the image is stored and returned; afterwards, with probability 1/2 a random stored image is returned and
    replaced by the new one, else the new image is returned. Images are stored and returned detached (the
    discriminator step never reaches the generator).

    The pool is part of the training state: ``state_dict``/``load_state_dict`` let MONAI's ``CheckpointSaver``
    and ``CheckpointLoader`` save and restore it with the networks.

    Args:
        pool_size: images kept; 0 disables the pool (queries return their input, detached).

    Shapes: ``query``: (B, C, *S) -> (B, C, *S).
    """

    def __init__(self, pool_size: int = 50) -> None:
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch of the same shape mixing ``images`` with stored ones (see the class docstring)."""
        images = images.detach()
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()) < 0.5:
                index = int(torch.randint(len(self.images), ()))
                out.append(self.images[index].to(image.device))
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, dim=0)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The stored images as one (N, C, *S) tensor (N = 0 when empty)."""
        return {"images": torch.cat(self.images, dim=0).cpu() if self.images else torch.empty(0)}

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Restore the stored images written by :meth:`state_dict`."""
        images = state_dict["images"]
        self.images = [images[i : i + 1].clone() for i in range(images.shape[0])] if images.numel() else []
