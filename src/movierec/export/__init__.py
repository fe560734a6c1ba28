"""Writing a split in other libraries' formats, to compare them on exactly the same data."""
