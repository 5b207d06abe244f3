"""The stages of the invoice process, one module each, run in order by
``workflows.invoice``: approve → deliver → collect, with accounting posts alongside."""
