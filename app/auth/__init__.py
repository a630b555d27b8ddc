from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from . import recovery, routes, verification  # noqa: E402,F401  (their views register on bp)
