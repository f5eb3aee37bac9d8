"""Pure data and maths: the spec, row schemas, windows, profiles. No I/O, no imports of ours."""
