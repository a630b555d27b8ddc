from wtforms import HiddenField, PasswordField, StringField
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


def _current_passkey() -> HiddenField:
    """A passkey's answer standing for the current factor (static/passkeys.js fills it)."""
    return HiddenField(validators=[Optional(), Length(max=16 * 1024)])


class SecondStepForm(AppForm):
    code = _code("Authentication code")


class EnableTotpForm(AppForm):
    code = _code("Code from your authenticator app")
    # Required (in the view) when the account already has a factor.
    current_code = _code("Code from your current authenticator app, or a recovery code", required=False)
    current_passkey = _current_passkey()
    password = _password()


class ConfirmChangeForm(AppForm):
    """Turning a factor off or making new recovery codes: the password and the current factor."""

    current_code = _code("Authentication code", required=False)
    current_passkey = _current_passkey()
    password = _password()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.current_code.data and not self.current_passkey.data:
            self.current_code.errors = [*self.current_code.errors, "Enter the code."]
            return False
        return valid


class AddPasskeyForm(AppForm):
    """Before a passkey is created: its name, the password and (when the account has
    one) the current factor. Sent by static/passkeys.js, which then creates the passkey."""

    name = StringField(
        "Name of the passkey",
        filters=[strip],
        validators=[
            DataRequired(message="Name the passkey, e.g. the device it is on."),
            Length(max=64, message="Use at most 64 characters."),
            no_control_characters,
        ],
    )
    current_code = _code("Code from your authenticator app, or a recovery code", required=False)
    current_passkey = _current_passkey()
    password = _password()
    # Filled by the script once the passkey exists; the form then goes to add_passkey.
    credential = HiddenField(validators=[Optional(), Length(max=16 * 1024)])


class PasskeyResponseForm(AppForm):
    """What navigator.credentials.create() or .get() answered, as JSON (static/passkeys.js)."""

    credential = HiddenField(validators=[DataRequired(), Length(max=16 * 1024)])
