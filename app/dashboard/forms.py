from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from ..forms import AppForm, NewPasswordForm
from ..security import PASSWORD_MAX_LENGTH


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        "Current password",
        validators=[
            DataRequired(message="Enter your current password."),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )


class DeleteAccountForm(AppForm):
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(message="Enter your password to confirm."),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )


class ConfirmPasswordForm(AppForm):
    """The account's password again, before ending other sessions (ASVS 7.5.2)."""

    password = PasswordField(
        "Your password",
        validators=[
            DataRequired(message="Enter your password to confirm."),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )
