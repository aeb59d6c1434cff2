"""Dataset and proposal converters used by tools/dataset_converters."""
