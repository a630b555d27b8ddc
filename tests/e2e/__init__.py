"""Browser end-to-end tests: Chromium (Playwright) against the app under gunicorn; `make test-e2e`."""
