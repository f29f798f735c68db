"""The data layer: the built-in images and the pieces every dataset shares.

- shapes.py: the built-in classification data (coloured shapes, drawn from a seed)
- scenes.py: built-in scenes of several shapes with per-pixel and instance labels, and
  segmentation folders in ADE20K's layout
- coco.py: detection folders in COCO's layout (instances_*.json beside the images)
- folders.py: Datasets, DataError and the one-pass check of an image folder

It imports only the model layer's constants; training and segmentation build on it.
"""
