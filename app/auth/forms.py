from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from ..forms import AppForm, NewPasswordForm, PasswordPolicy, no_control_characters, normalize_email, strip
from ..security import PASSWORD_MAX_LENGTH

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
    email = EmailField(
        "E-mail address",
        filters=[strip],
        validators=[
            DataRequired(message="Enter your e-mail address."),
            Length(max=254, message="Use at most 254 characters."),
            no_control_characters,
            normalize_email,
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(message="Choose a password."),
            no_control_characters,
            PasswordPolicy(username_field="username", email_field="email"),
        ],
    )
    confirm_password = PasswordField(
        "Confirm password",
        validators=[
            DataRequired(message="Repeat the password."),
            EqualTo("password", message="The passwords do not match."),
        ],
    )


class LoginForm(AppForm):
    login = StringField(
        "Username or e-mail address",
        filters=[strip],
        validators=[
            DataRequired(message="Enter your username or e-mail address."),
            Length(max=254, message="Use at most 254 characters."),
            no_control_characters,
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(message="Enter your password."),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )
    remember_me = BooleanField("Keep me signed in on this device")


class ResetRequestForm(AppForm):
    email = EmailField(
        "E-mail address",
        filters=[strip],
        validators=[
            DataRequired(message="Enter the e-mail address of your account."),
            Length(max=254, message="Use at most 254 characters."),
            no_control_characters,
            normalize_email,
        ],
    )


class ResetPasswordForm(NewPasswordForm):
    """The form behind an e-mailed reset link (no current password: the link stands for it)."""
