"""One module per migration, in one chain (``down_revision``)."""
