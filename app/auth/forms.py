from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from ..forms import (
    AppForm,
    NewPasswordForm,
    email_field,
    new_password_pair,
    password_field,
    strip,
    text_field,
)

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class RegisterForm(AppForm):
    username = StringField(
        "Username",
        filters=[strip],
        validators=[
            DataRequired(message="Choose a username."),
            Length(min=3, max=32, message="Use 3 to 32 characters."),
            Regexp(
                USERNAME_PATTERN,
                message="Use letters, digits, dots, dashes and underscores; start with a letter or digit.",
            ),
        ],
    )
    email = email_field("Enter your e-mail address.")
    password, confirm_password = new_password_pair(
        "Password", "Choose a password.", "password", username_field="username", email_field="email"
    )


class LoginForm(AppForm):
    login = text_field(
        "Username or e-mail address", DataRequired(message="Enter your username or e-mail address."), 254
    )
    password = password_field("Password", "Enter your password.")
    remember_me = BooleanField("Keep me signed in on this device")


class ResetRequestForm(AppForm):
    email = email_field("Enter the e-mail address of your account.")


class ResetPasswordForm(NewPasswordForm):
    """The form behind an e-mailed reset link (no current password: the link stands for it)."""
