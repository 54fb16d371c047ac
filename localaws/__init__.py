"""The local AWS stack for development and tests; never imported by production code."""
