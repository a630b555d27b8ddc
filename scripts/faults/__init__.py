"""The fault suite (`make faults`): the app under load while its dependencies fail.
See scripts/faults/README.md."""
