"""The receiving edge: signature checks, header parsing, topic routing, the webhook view."""
