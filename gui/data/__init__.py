"""The Data tab: open a dataset, check its health, browse its images, choose augmentation."""
