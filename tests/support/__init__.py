"""Helpers loaded only by tests (never by production), each in one module and imported as
`from tests.support.<module> import ...` (never from conftest, which holds only fixtures and hooks):

passwords  the passwords and secret keys tests use, make_password()
auth       csrf_token(html), AuthActions (the register / sign-in / sign-out forms)
database   app_for(), migrate(), per-test databases (new_postgresql_database, new_database), TABLES
ports      free_port(), listening()
server     gunicorn as production runs it (sys.executable -m gunicorn), Browser, register()
metrics    Prometheus samples of /metrics
mfa        the TOTP clock and alice's enrolment and two-step sign-in
services   private PostgreSQL and Redis for fault tests; mailbox, races, standins, container,
           scanners, soft_authenticator, aws_emulator, slow_app: see each module
"""
