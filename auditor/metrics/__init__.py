"""Pure numpy metrics: image similarity (SSIM, PSNR, MSE) and DD-curve areas. Probes call these, never
re-implement them."""
