"""RQ entry points: thin functions taking ids; all the logic lives in `bridge`."""
