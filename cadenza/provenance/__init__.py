"""Where a piece came from: provenance records, the originality index and report, signing."""
