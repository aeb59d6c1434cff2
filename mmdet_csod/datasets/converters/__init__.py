"""Dataset and proposal converters (library side of tools/dataset_converters)."""
