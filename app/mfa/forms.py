from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import AppForm, password_field, text_field

CODE_HINT = "The 6-digit code your authenticator app shows, or one of your recovery codes."


def _password() -> PasswordField:
    return password_field("Your password", "Enter your password to confirm.")


def _code(label: str, required: bool = True) -> StringField:
    first = DataRequired(message="Enter the code.") if required else Optional()
    return text_field(label, first, 64, too_long="That code is too long.")


def _credential(required: bool = False) -> HiddenField:
    """A passkey's answer, as JSON (static/passkeys.js fills it); optional where
    it stands for the current factor, which a code may prove instead."""
    return HiddenField(validators=[DataRequired() if required else Optional(), Length(max=16 * 1024)])


class SecondStepForm(AppForm):
    code = _code("Authentication code")


class EnableTotpForm(AppForm):
    code = _code("Code from your authenticator app")
    # Required (in the view) when the account already has a factor.
    current_code = _code("Code from your current authenticator app, or a recovery code", required=False)
    current_passkey = _credential()
    password = _password()


class ConfirmChangeForm(AppForm):
    """Turning a factor off or making new recovery codes: the password and the current factor."""

    current_code = _code("Authentication code", required=False)
    current_passkey = _credential()
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

    name = text_field(
        "Name of the passkey", DataRequired(message="Name the passkey, e.g. the device it is on."), 64
    )
    current_code = _code("Code from your authenticator app, or a recovery code", required=False)
    current_passkey = _credential()
    password = _password()
    # Filled by the script once the passkey exists; the form then goes to add_passkey.
    credential = _credential()


class PasskeyResponseForm(AppForm):
    """What navigator.credentials.create() or .get() answered, as JSON (static/passkeys.js)."""

    credential = _credential(required=True)
