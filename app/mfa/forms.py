from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import AppForm, no_control_characters, strip
from ..security import PASSWORD_MAX_LENGTH

CODE_HINT = "The 6-digit code your authenticator app shows, or one of your recovery codes."


def _password(label: str = "Your password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(message="Enter your password to confirm."),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )


def _code(label: str, required: bool = True) -> StringField:
    first = DataRequired(message="Enter the code.") if required else Optional()
    return StringField(
        label,
        filters=[strip],
        validators=[first, Length(max=64, message="That code is too long."), no_control_characters],
    )


class SecondStepForm(AppForm):
    code = _code("Authentication code")


class EnableTotpForm(AppForm):
    code = _code("Code from your authenticator app")
    # Required (in the view) when the account already has a factor.
    current_code = _code("Code from your current authenticator app, or a recovery code", required=False)
    password = _password()


class ConfirmChangeForm(AppForm):
    """Turning a factor off or making new recovery codes: the password and the current factor."""

    current_code = _code("Authentication code")
    password = _password()
