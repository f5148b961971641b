"""k-space physics: centred FFTs, coil sensitivities, noise (masks and transforms build on these)."""

from .coils import rss, sensitivity_combine, sensitivity_expand, simulate_coil_sensitivities
from .fft import channels_to_complex, complex_to_channels, fft2c, fftnc, ifft2c, ifftnc
from .noise import add_complex_noise, noise_sigma_for_snr
