"""printbridge: store cancellations and address edits, carried to Gelato before print."""
