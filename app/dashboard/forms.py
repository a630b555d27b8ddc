from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import PasswordPolicy, no_control_characters
from ..security import PASSWORD_MAX_LENGTH


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[
            DataRequired(message="Enter your current password."),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired(message="Choose a new password."),
            no_control_characters,
            PasswordPolicy(),
        ],
    )
    confirm_password = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired(message="Repeat the new password."),
            EqualTo("new_password", message="The passwords do not match."),
        ],
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(message="Enter your password to confirm."),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )
