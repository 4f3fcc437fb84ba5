"""Classical building blocks of the restoration engines: noise and blur estimation, deconvolution,
face alignment, damage detection, exemplar (PatchMatch) inpainting."""
